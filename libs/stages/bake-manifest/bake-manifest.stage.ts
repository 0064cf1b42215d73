import { defineStage, type StageTypes, type TaskContext } from '@jibe/domain';
import { parse } from 'yaml';
import { z } from 'zod';
import { isRecord } from '../cluster-kit/manifest';
import { redactSecret } from '../cluster-kit/secrets';
import { clusterTask, StageFailure } from '../cluster-kit/stage-support';
import { mergeValues, renderManifests, toArtifact } from './render';
import { type TemplateFile, TemplateSourcePort } from './template-source.port';

const TEMPLATE_FILE = /\.(ya?ml|hbs|tpl)$/;
const VALUES_FILE = /^values(-[^/]*)?\.ya?ml$/;

const config = z
  .looseObject({
    templateRenderer: z
      .string()
      .default('HANDLEBARS')
      .refine(
        (r) => r.toUpperCase() === 'HANDLEBARS',
        'Jibe renders HANDLEBARS templates (Helm and Kustomize are not supported)',
      ),
    /** The artifact's name (Spinnaker's); defaults to the stage name. */
    outputName: z.string().min(1).optional(),
    namespace: z.string().optional(),
    templates: z
      .array(z.looseObject({ name: z.string().min(1), content: z.string() }))
      .min(1, 'at least one template')
      .optional(),
    git: z
      .looseObject({
        repository: z.string().min(1),
        ref: z.string().min(1).default('main'),
        path: z.string().default(''),
      })
      .optional(),
    values: z.record(z.string(), z.unknown()).default({}),
    /** Values files in the Git folder, merged in order (a `values.yaml` there is always first). */
    valuesFiles: z.array(z.string().min(1)).default([]),
    environment: z.string().optional(),
    /** Values per environment, merged over `values` for the chosen `environment`. */
    environments: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    /** Merged last (Spinnaker's `overrides`); `${ }` expressions here are evaluated when the stage starts. */
    overrides: z.record(z.string(), z.unknown()).default({}),
    allowSecrets: z.boolean().default(false),
  })
  .superRefine((c, issues) => {
    if ((c.templates === undefined) === (c.git === undefined)) {
      issues.addIssue({ code: 'custom', path: ['templates'], message: 'set either templates (inline) or git' });
    }
    if (c.valuesFiles.length > 0 && !c.git)
      issues.addIssue({ code: 'custom', path: ['valuesFiles'], message: 'needs git' });
    if (c.environment !== undefined && Object.keys(c.environments).length > 0 && !(c.environment in c.environments)) {
      issues.addIssue({
        code: 'custom',
        path: ['environment'],
        message: `no entry "${c.environment}" in environments`,
      });
    }
  });

function parseValuesFile(file: TemplateFile): Record<string, unknown> {
  try {
    const value: unknown = parse(file.content);
    if (value === null || value === undefined) return {};
    if (!isRecord(value)) throw new Error('not a mapping');
    return value;
  } catch (error) {
    throw new StageFailure(
      `values file ${file.path}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      'TEMPLATE_ERROR',
    );
  }
}

async function templateSet(context: TaskContext<object>, c: z.output<typeof config>) {
  if (c.templates)
    return {
      commit: undefined,
      templates: c.templates.map((t) => ({ path: t.name, content: t.content })),
      partials: {},
      values: [],
    };
  const git = c.git!;
  const { commit, files } = await context.port(TemplateSourcePort).fetch(git);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const valuesFiles = c.valuesFiles.map((path) => {
    const file = byPath.get(path);
    if (!file)
      throw new StageFailure(
        `valuesFiles: no ${path} in ${git.repository}@${git.ref}/${git.path}`,
        'TEMPLATE_SOURCE_FAILED',
      );
    return file;
  });
  const base = byPath.get('values.yaml') ?? byPath.get('values.yml');
  const hasTemplatesFolder = files.some((f) => f.path.startsWith('templates/'));
  const candidates = files.filter(
    (f) =>
      TEMPLATE_FILE.test(f.path) &&
      (hasTemplatesFolder
        ? f.path.startsWith('templates/')
        : !VALUES_FILE.test(f.path) && !c.valuesFiles.includes(f.path)),
  );
  const partials: Record<string, string> = {};
  const templates: TemplateFile[] = [];
  for (const file of candidates) {
    const name = file.path.split('/').pop()!;
    // Helm's convention: files starting with `_` hold partials, not manifests.
    if (name.startsWith('_')) partials[name.slice(1).replace(TEMPLATE_FILE, '')] = file.content;
    else templates.push(file);
  }
  if (templates.length === 0)
    throw new StageFailure(`no templates in ${git.repository}@${git.ref}/${git.path}`, 'TEMPLATE_SOURCE_FAILED');
  return { commit, templates, partials, values: [...(base ? [base] : []), ...valuesFiles].map(parseValuesFile) };
}

/**
 * Renders a Handlebars template set (inline, or a folder of a Git repository at a pinned ref) with values files,
 * per-environment values and overrides, strictly: a missing value fails the stage naming the template, line and
 * value. Every document is checked; the result is one content-addressed `embedded/base64` artifact.
 */
export const bakeManifestStage = defineStage({
  type: 'bakeManifest',
  description: 'Render Handlebars manifest templates (inline or from Git) into a content-addressed artifact.',
  config,
  tasks: [
    clusterTask<StageTypes<typeof config>>('bakeManifest', async (context) => {
      const c = context.stage.context;
      const set = await templateSet(context, c);
      const values = mergeValues(
        ...set.values,
        c.values,
        c.environment ? c.environments[c.environment] : undefined,
        c.overrides,
      );
      const manifests = renderManifests({
        templates: set.templates,
        partials: set.partials,
        context: {
          ...values,
          jibe: {
            environment: c.environment ?? null,
            namespace: c.namespace ?? null,
            application: context.execution.application,
            executionId: context.execution.id,
          },
        },
        namespace: c.namespace,
        allowSecrets: c.allowSecrets,
      });
      const artifact = toArtifact(c.outputName ?? context.stage.name, manifests);
      return {
        status: 'SUCCEEDED',
        outputs: {
          artifacts: [artifact],
          // The artifact must carry allowed Secrets' values to the deploy; the readable copy keeps none.
          manifests: manifests.map(redactSecret),
          ...(set.commit ? { templateCommit: set.commit } : {}),
        },
      };
    }),
  ],
});
