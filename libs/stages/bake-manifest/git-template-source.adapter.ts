import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { TransientError } from '@jibe/domain';
import { StageFailure } from '../cluster-kit/stage-support';
import { type TemplateFile, TemplateSourcePort } from './template-source.port';

const run = promisify(execFile);

/** Limits that keep one bake from filling the worker's memory or the stage context. */
const MAX_FILES = 500;
const MAX_BYTES = 5 * 1024 * 1024;

export interface GitTemplateSourceOptions {
  /** Transports git may use (GIT_ALLOW_PROTOCOL). `file` is off by default: a pipeline must not read the worker's disk. */
  readonly allowedProtocols?: readonly string[];
  readonly timeoutMs?: number;
}

/**
 * Fetches a template set with the git CLI: a fresh temporary repository, a shallow fetch of exactly the ref, a
 * detached checkout, and the files read back (no symlinks, nothing outside the folder). Credentials are git's own
 * (credential helpers, SSH keys of the worker), never part of the pipeline.
 */
export class GitTemplateSourceAdapter extends TemplateSourcePort {
  private readonly protocols: readonly string[];
  private readonly timeoutMs: number;

  constructor(options: GitTemplateSourceOptions = {}) {
    super();
    this.protocols = options.allowedProtocols ?? ['https', 'ssh', 'git'];
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  override async fetch(request: { repository: string; ref: string; path: string }): Promise<{
    commit: string;
    files: TemplateFile[];
  }> {
    const { repository, ref } = request;
    if (repository.startsWith('-') || ref.startsWith('-') || /[\s\0]/.test(ref)) {
      throw new StageFailure(`invalid repository or ref: ${repository} ${ref}`, 'INVALID_CONFIG');
    }
    const dir = await mkdtemp(join(tmpdir(), 'jibe-bake-'));
    try {
      await this.git(dir, ['init', '-q', '.']);
      await this.git(
        dir,
        ['fetch', '-q', '--depth', '1', '--no-tags', '--', repository, ref],
        `fetching ${ref} from ${repository}`,
      );
      await this.git(dir, ['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', 'FETCH_HEAD']);
      const commit = (await this.git(dir, ['rev-parse', 'HEAD'])).trim();
      if (/^[0-9a-f]{40}$/i.test(ref) && commit.toLowerCase() !== ref.toLowerCase()) {
        throw new StageFailure(`fetched ${commit} but ${ref} was asked for`, 'TEMPLATE_SOURCE_FAILED');
      }
      const root = resolve(dir, request.path || '.');
      if (root !== dir && !root.startsWith(dir + sep)) {
        throw new StageFailure(`path ${request.path} leaves the repository`, 'INVALID_CONFIG');
      }
      return { commit, files: await readTree(root) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async git(cwd: string, args: string[], doing?: string): Promise<string> {
    try {
      const { stdout } = await run('git', args, {
        cwd,
        timeout: this.timeoutMs,
        maxBuffer: 1024 * 1024,
        env: {
          ...process.env,
          GIT_TERMINAL_PROMPT: '0',
          GIT_ALLOW_PROTOCOL: this.protocols.join(':'),
          GIT_CONFIG_NOSYSTEM: '1',
        },
      });
      return stdout;
    } catch (error) {
      const raw = (error as { stderr?: unknown }).stderr;
      const stderr =
        (typeof raw === 'string' ? raw.trim() : '') || (error instanceof Error ? error.message : 'unknown error');
      const message = `git ${doing ?? args[0]} failed: ${stderr.split('\n').slice(-3).join(' ')}`;
      if (
        /Could not resolve host|timed out|Connection (reset|refused)|early EOF|503|502|429/i.test(stderr) ||
        (error as { killed?: boolean }).killed
      ) {
        throw new TransientError(message);
      }
      throw new StageFailure(message, 'TEMPLATE_SOURCE_FAILED');
    }
  }
}

async function readTree(root: string): Promise<TemplateFile[]> {
  const files: TemplateFile[] = [];
  let bytes = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      throw new StageFailure(`no folder ${relative(root, dir) || '.'} in the repository`, 'TEMPLATE_SOURCE_FAILED');
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name === '.git') continue;
      const full = join(dir, entry.name);
      // Symlinks could point anywhere on the worker; templates never need them.
      if ((await lstat(full)).isSymbolicLink()) continue;
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const content = await readFile(full, 'utf8');
        bytes += content.length;
        if (files.length >= MAX_FILES || bytes > MAX_BYTES) {
          throw new StageFailure(
            `the template folder is too large (at most ${MAX_FILES} files, 5 MiB)`,
            'TEMPLATE_SOURCE_FAILED',
          );
        }
        files.push({ path: relative(root, full).split(sep).join('/'), content });
      }
    }
  };
  await walk(root);
  return files;
}
