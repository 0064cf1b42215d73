import { defineStage, type StageTypes, type TaskContext } from '@jibe/domain';
import { z } from 'zod';
import { type KubeObject, type ObjectRef, objectRefSchema } from '../cluster-kit/cluster.port';
import { canonicalKind, CLUSTER_SCOPED_KINDS, describeRef, refOf } from '../cluster-kit/manifest';
import {
  clusterPortOf,
  clusterTask,
  kubernetesStageKeys,
  stageNamespace,
  writeOptions,
} from '../cluster-kit/stage-support';
import { checkTarget, hasTarget, resolveTarget, targetKeys } from '../cluster-kit/target';
import { waitForStableTask } from '../cluster-kit/wait-for-stable.task';

/** Spinnaker's structured selectors (`labelSelectors.selectors[]`), ANDed. */
const selectorSchema = z.looseObject({
  key: z.string().min(1),
  kind: z.enum(['EQUALS', 'NOT_EQUALS', 'CONTAINS', 'NOT_CONTAINS', 'EXISTS', 'NOT_EXISTS']),
  values: z.array(z.string()).default([]),
});

const config = z
  .looseObject({
    ...kubernetesStageKeys,
    ...targetKeys,
    kinds: z.array(z.string().min(1)).optional(),
    labelSelectors: z.looseObject({ selectors: z.array(selectorSchema).default([]) }).optional(),
    /** A Kubernetes label selector string; ANDed with `labelSelectors`. */
    labelSelector: z.string().optional(),
    options: z
      .looseObject({ cascading: z.boolean().optional(), gracePeriodSeconds: z.number().int().min(0).optional() })
      .optional(),
  })
  .superRefine((c, issues) => {
    const bySelector = c.kinds !== undefined || c.labelSelector !== undefined || c.labelSelectors !== undefined;
    if (!bySelector) return checkTarget(c, issues);
    if (!c.kinds || c.kinds.length === 0)
      issues.addIssue({ code: 'custom', path: ['kinds'], message: 'required with a label selector' });
    if (!c.labelSelector?.trim() && (c.labelSelectors?.selectors.length ?? 0) === 0) {
      issues.addIssue({
        code: 'custom',
        path: ['labelSelectors'],
        message: 'at least one selector (deleting every object of a kind is not allowed)',
      });
    }
  });

type DeleteConfig = z.output<typeof config>;

const state = z.object({
  /** What was deleted, for the wait until it is gone. */
  'delete.targets': z.array(objectRefSchema),
});

const outputs = z.object({
  'outputs.manifestNamesByNamespace': z.record(z.string(), z.array(z.string())),
  deleted: z.array(z.string()),
});

type Delete = StageTypes<typeof config, typeof state, typeof outputs>;

function selectorString(c: DeleteConfig): string {
  const terms = (c.labelSelectors?.selectors ?? []).map((s) => {
    switch (s.kind) {
      case 'EQUALS':
        return `${s.key}=${s.values[0] ?? ''}`;
      case 'NOT_EQUALS':
        return `${s.key}!=${s.values[0] ?? ''}`;
      case 'CONTAINS':
        return `${s.key} in (${s.values.join(',')})`;
      case 'NOT_CONTAINS':
        return `${s.key} notin (${s.values.join(',')})`;
      case 'EXISTS':
        return s.key;
      case 'NOT_EXISTS':
        return `!${s.key}`;
    }
  });
  return [c.labelSelector?.trim(), ...terms].filter(Boolean).join(',');
}

async function findTargets(context: TaskContext<object>, c: DeleteConfig, namespace: string): Promise<KubeObject[]> {
  const port = clusterPortOf(context);
  if (c.kinds && c.kinds.length > 0) {
    const found: KubeObject[] = [];
    for (const kind of c.kinds.map(canonicalKind)) {
      const scoped = CLUSTER_SCOPED_KINDS.has(kind) ? {} : { namespace };
      found.push(...(await port.list(c.account, { kind, ...scoped, labelSelector: selectorString(c) })));
    }
    return found;
  }
  if (!hasTarget(c)) return [];
  const target = await resolveTarget(port, c.account, namespace, c);
  const ref = CLUSTER_SCOPED_KINDS.has(target.kind) ? { kind: target.kind, name: target.name } : target;
  const object = target.serverGroup?.object ?? (await port.get(c.account, ref));
  return object ? [object] : [];
}

/**
 * Deletes objects by name (static or dynamic) or by kinds + label selector, and waits until they are gone. Only
 * objects Jibe manages (unless `allowUnmanaged: true`): if any match lacks `app.kubernetes.io/managed-by: jibe`,
 * the cluster adapter refuses it with NOT_MANAGED and nothing is deleted.
 */
export const deleteManifestStage = defineStage({
  type: 'deleteManifest',
  description: 'Delete objects Jibe manages, by name or by label selector, and wait until they are gone.',
  config,
  state,
  outputs,
  tasks: [
    clusterTask<Delete>('deleteManifest', async (context) => {
      const c = context.stage.context;
      const port = clusterPortOf(context);
      const namespace = stageNamespace(c, port, c.account);
      const objects = await findTargets(context, c, namespace);
      const refs: ObjectRef[] = objects.map(refOf);
      const options = {
        ...writeOptions(c),
        propagationPolicy: c.options?.cascading === false ? ('Orphan' as const) : ('Background' as const),
        ...(c.options?.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: c.options.gracePeriodSeconds } : {}),
      };
      // A dry run of every delete first: one the adapter refuses (NOT_MANAGED) or the API would refuse fails the
      // stage before anything is deleted, so a selector that also matches someone else's object deletes nothing.
      for (const ref of refs) await port.delete(c.account, ref, { ...options, dryRun: true });
      for (const ref of refs) await port.delete(c.account, ref, options);
      const byNamespace: Record<string, string[]> = {};
      for (const ref of refs)
        (byNamespace[ref.namespace ?? ''] ??= []).push(describeRef({ kind: ref.kind, name: ref.name }));
      return {
        status: 'SUCCEEDED',
        context: { 'delete.targets': refs },
        outputs: { 'outputs.manifestNamesByNamespace': byNamespace, deleted: refs.map((r) => describeRef(r)) },
      };
    }),
    waitForStableTask<Delete>('waitForDelete', {
      key: 'delete.wait',
      want: 'missing',
      objects: ({ stage }) => ({ account: stage.context.account, refs: stage.context['delete.targets'] ?? [] }),
    }),
  ],
});
