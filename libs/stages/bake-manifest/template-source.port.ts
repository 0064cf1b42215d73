/** A file of a template set, its path relative to the requested folder. */
export interface TemplateFile {
  readonly path: string;
  readonly content: string;
}

/**
 * Where bakeManifest gets templates kept in Git. The engine binds {@link GitTemplateSourceAdapter} (the git CLI);
 * specs may bind a fake. Implementations throw `TransientError` for failures worth retrying (network).
 */
export abstract class TemplateSourcePort {
  /** The files under `path` at `ref` (a branch, tag or commit), and the commit they came from. */
  abstract fetch(request: { repository: string; ref: string; path: string }): Promise<{
    commit: string;
    files: TemplateFile[];
  }>;
}
