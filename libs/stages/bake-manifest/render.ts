import { createHash } from 'node:crypto';
import Handlebars from 'handlebars';
import { parseAllDocuments, stringify } from 'yaml';
import { type Artifact } from '../cluster-kit/artifacts';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { CLUSTER_SCOPED_KINDS, isRecord } from '../cluster-kit/manifest';
import { checkManifest } from '../cluster-kit/manifest-schema';
import { StageFailure } from '../cluster-kit/stage-support';
import { type TemplateFile } from './template-source.port';

/** The rendered set is kept in the execution (Postgres); beyond this it belongs in a registry, not a stage output. */
export const MAX_RENDERED_BYTES = 1024 * 1024;

/**
 * Helpers for YAML templates. Handlebars' strict mode makes a missing value an error in `{{ }}`, while helper
 * arguments stay lenient, so `{{default x "y"}}` and `{{#if x}}` are the ways to make a value optional.
 */
function environment(partials: Record<string, string>): typeof Handlebars {
  const hbs = Handlebars.create();
  hbs.registerHelper('default', (value: unknown, fallback: unknown) =>
    value === undefined || value === null || value === '' ? fallback : value,
  );
  hbs.registerHelper('toJson', (value: unknown) => JSON.stringify(value));
  hbs.registerHelper('toYaml', (value: unknown) => stringify(value).trimEnd());
  hbs.registerHelper('quote', (value: unknown) => JSON.stringify(String(value)));
  hbs.registerHelper('b64enc', (value: unknown) => Buffer.from(String(value)).toString('base64'));
  hbs.registerHelper('indent', (spaces: unknown, text: unknown) =>
    String(text)
      .split('\n')
      .map((line) => `${' '.repeat(Number(spaces))}${line}`)
      .join('\n'),
  );
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  // A partial on a line of its own replaces the whole line, newline included: one without a final newline would
  // glue the next line of YAML to its last one (a file saved without a trailing newline is common).
  for (const [name, content] of Object.entries(partials)) {
    hbs.registerPartial(name, content.endsWith('\n') ? content : `${content}\n`);
  }
  return hbs;
}

/** `{{ image.tag }}` at a line and column of a template, for the error message. */
function mustacheAt(source: string, line: number, column: number): string | undefined {
  const text = source.split('\n')[line - 1];
  if (text === undefined) return undefined;
  const open = text.lastIndexOf('{{', column);
  const close = text.indexOf('}}', column);
  if (open < 0 || close < 0) return undefined;
  return text.slice(open, close + 2);
}

function renderOne(hbs: typeof Handlebars, template: TemplateFile, context: unknown): string {
  try {
    return hbs.compile(template.content, { strict: true, noEscape: true })(context);
  } catch (error) {
    const e = error as { message?: string; lineNumber?: number; column?: number };
    const missing = /^"([^"]+)" not defined in/.exec(e.message ?? '');
    if (missing && e.lineNumber !== undefined) {
      const expression = mustacheAt(template.content, e.lineNumber, e.column ?? 0);
      const path = expression?.replace(/^\{\{[~#/^>&{]*\s*|\s*~?\}?\}\}$/g, '').split(/\s+/)[0];
      throw new StageFailure(
        `${template.path} line ${e.lineNumber}: missing value ${path ?? missing[1]}${expression ? ` in ${expression}` : ''}`,
        'TEMPLATE_ERROR',
        [{ path: `${template.path}:${e.lineNumber}`, message: `missing value ${path ?? missing[1]}` }],
      );
    }
    throw new StageFailure(`${template.path}: ${e.message ?? String(error)}`, 'TEMPLATE_ERROR');
  }
}

export interface RenderRequest {
  readonly templates: readonly TemplateFile[];
  readonly partials: Record<string, string>;
  readonly context: Record<string, unknown>;
  readonly namespace?: string | undefined;
  readonly allowSecrets: boolean;
}

/**
 * Renders every template, parses its YAML documents and checks each one; every problem names the template and the
 * document. Objects without a namespace get `namespace` (when given).
 */
export function renderManifests(request: RenderRequest): KubeObject[] {
  const hbs = environment(request.partials);
  const manifests: KubeObject[] = [];
  const problems: string[] = [];
  for (const template of request.templates) {
    const text = renderOne(hbs, template, request.context);
    const documents = parseAllDocuments(text);
    let index = 0;
    for (const document of documents) {
      index += 1;
      const where = `${template.path} document ${index}`;
      if (document.errors.length > 0) {
        const first = document.errors[0]!;
        const line = first.linePos?.[0]?.line;
        problems.push(
          `${where}: invalid YAML${line ? ` at rendered line ${line}` : ''}: ${first.message.split('\n')[0]}`,
        );
        continue;
      }
      const value: unknown = document.toJS();
      if (value === null || value === undefined) continue;
      const found = checkManifest(value, where);
      if (found.length > 0) {
        problems.push(...found);
        continue;
      }
      const object = value as KubeObject;
      if (
        object.kind === 'Secret' &&
        !request.allowSecrets &&
        (isRecord(object['data']) || isRecord(object['stringData']))
      ) {
        problems.push(
          `${where}: a Secret with data would be stored in plain text with the execution; reference it (ExternalSecret, SealedSecret) or set allowSecrets`,
        );
        continue;
      }
      if (request.namespace && !object.metadata.namespace && !CLUSTER_SCOPED_KINDS.has(object.kind)) {
        object.metadata.namespace = request.namespace;
      }
      manifests.push(object);
    }
  }
  if (problems.length > 0) throw new StageFailure(`invalid manifests: ${problems.join('; ')}`, 'INVALID_MANIFEST');
  if (manifests.length === 0) throw new StageFailure('the templates rendered no manifests', 'INVALID_MANIFEST');
  return manifests;
}

/** The rendered set as one YAML stream and a content-addressed embedded artifact (sha256 of that stream). */
export function toArtifact(name: string, manifests: readonly KubeObject[]): Artifact & { sha256: string } {
  const yaml = manifests.map((m) => stringify(m)).join('---\n');
  if (Buffer.byteLength(yaml) > MAX_RENDERED_BYTES) {
    throw new StageFailure(
      `the rendered manifests are larger than ${MAX_RENDERED_BYTES / 1024} KiB`,
      'INVALID_MANIFEST',
    );
  }
  const sha256 = createHash('sha256').update(yaml).digest('hex');
  return {
    type: 'embedded/base64',
    name,
    id: `sha256:${sha256}`,
    reference: Buffer.from(yaml).toString('base64'),
    sha256,
  };
}

/** Deep merge for values: objects merge, everything else (arrays included) is replaced. */
export function mergeValues(...layers: unknown[]): Record<string, unknown> {
  const merge = (a: unknown, b: unknown): unknown => {
    if (!isRecord(a) || !isRecord(b)) return b === undefined ? a : b;
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
    return out;
  };
  return layers.reduce<Record<string, unknown>>(
    (acc, layer) => (isRecord(layer) ? (merge(acc, layer) as Record<string, unknown>) : acc),
    {},
  );
}
