import { defineStage, type StageTypes } from '@jibe/domain';
import { z } from 'zod';
import { type ClusterPort, type KubeObject, type ObjectRef, objectRefSchema } from '../cluster-kit/cluster.port';
import { LABELS, MANAGED_BY_JIBE } from '../cluster-kit/labels';
import { canonicalKind, describeRef, SCALABLE_KINDS } from '../cluster-kit/manifest';
import { describeScale, restore, scaleTo } from '../cluster-kit/scaling';
import {
  clusterPortOf,
  clusterTask,
  count,
  kubernetesStageKeys,
  StageFailure,
  stageNamespace,
  toCount,
  writeOptions,
} from '../cluster-kit/stage-support';
import { checkTarget, hasTarget, resolveTarget, targetKeys } from '../cluster-kit/target';
import { waitForStableTask } from '../cluster-kit/wait-for-stable.task';

const config = z
  .looseObject({
    ...kubernetesStageKeys,
    ...targetKeys,
    replicas: count.optional(),
    /**
     * Scale every Jibe-managed workload matching this selector in the namespace (e.g. a whole environment); with
     * `allowUnmanaged: true`, the others it matches as well.
     */
    labelSelector: z.string().min(1).optional(),
    /** Kinds the label selector scales (default Deployment and StatefulSet). */
    kinds: z.array(z.string().min(1)).optional(),
    /** Put back the counts remembered by an earlier scale instead of setting `replicas`. */
    restore: z.boolean().optional(),
  })
  .superRefine((c, issues) => {
    if (c.labelSelector !== undefined) {
      if (c.manifestName?.trim() || c.mode === 'dynamic') {
        issues.addIssue({
          code: 'custom',
          path: ['labelSelector'],
          message: 'use either labelSelector or a manifestName/cluster target, not both',
        });
      }
    } else {
      checkTarget(c, issues);
    }
    if (c.restore === true && c.replicas !== undefined) {
      issues.addIssue({ code: 'custom', path: ['replicas'], message: 'not allowed with restore: true' });
    }
    if (c.restore !== true && c.replicas === undefined) {
      issues.addIssue({ code: 'custom', path: ['replicas'], message: 'required (or restore: true)' });
    }
  });

const state = z.object({
  /** What the scale changed, for the wait. */
  'scale.targets': z.array(objectRefSchema),
});

const outputs = z.object({
  scaled: z.array(z.string()),
  notRestored: z.array(z.string()),
  'outputs.manifestNamesByNamespace': z.record(z.string(), z.array(z.string())),
});

type Scale = StageTypes<typeof config, typeof state, typeof outputs>;
type ScaleConfig = z.output<typeof config>;

async function targets(port: ClusterPort, account: string, namespace: string, c: ScaleConfig): Promise<KubeObject[]> {
  if (c.labelSelector !== undefined) {
    const kinds = (c.kinds ?? ['Deployment', 'StatefulSet']).map(canonicalKind);
    const found: KubeObject[] = [];
    for (const kind of kinds) {
      if (!SCALABLE_KINDS.has(kind)) throw new StageFailure(`kinds: ${kind} cannot be scaled`, 'INVALID_CONFIG');
      // Choosing only Jibe's workloads is what the selector means here; the adapter would refuse the others anyway.
      const selector = c.allowUnmanaged ? c.labelSelector : `${c.labelSelector},${LABELS.managedBy}=${MANAGED_BY_JIBE}`;
      const objects = await port.list(account, { kind, namespace, labelSelector: selector });
      // A ReplicaSet owned by a Deployment is scaled through its Deployment, never directly.
      found.push(...objects.filter((o) => !(o.metadata.ownerReferences ?? []).some((r) => r.controller)));
    }
    return found;
  }
  if (!hasTarget(c)) return [];
  const target = await resolveTarget(port, account, namespace, c);
  const object = await port.get(account, target);
  if (!object) throw new StageFailure(`${describeRef(target)} does not exist`, 'TARGET_NOT_FOUND');
  if (!SCALABLE_KINDS.has(object.kind))
    throw new StageFailure(`${describeRef(target)} cannot be scaled`, 'INVALID_CONFIG');
  return [object];
}

/**
 * Scales a workload (static or dynamic target) or every Jibe-managed workload a label selector matches in a
 * namespace; scale-in remembers the counts on the objects and `restore: true` puts them back.
 */
export const scaleManifestStage = defineStage({
  type: 'scaleManifest',
  description: 'Scale a workload, or every workload of an environment, and restore it later.',
  config,
  state,
  outputs,
  tasks: [
    clusterTask<Scale>('scaleManifest', async (context) => {
      const c = context.stage.context;
      const port = clusterPortOf(context);
      const namespace = stageNamespace(c, port, c.account);
      const objects = await targets(port, c.account, namespace, c);
      const scaled: string[] = [];
      const notRestored: string[] = [];
      for (const object of objects) {
        if (c.restore === true) {
          const result = await restore(port, c.account, object, writeOptions(c));
          if (!result.remembered) notRestored.push(describeRef(result.ref));
          else scaled.push(describeScale(result));
        } else {
          const to = toCount(c.replicas, 'replicas');
          scaled.push(describeScale(await scaleTo(port, c.account, object, to, writeOptions(c))));
        }
      }
      const refs: ObjectRef[] = objects.map((o) => ({ kind: o.kind, name: o.metadata.name ?? '', namespace }));
      return {
        status: 'SUCCEEDED',
        context: { 'scale.targets': refs },
        outputs: {
          scaled,
          notRestored,
          'outputs.manifestNamesByNamespace': {
            [namespace]: refs.map((r) => describeRef({ kind: r.kind, name: r.name })),
          },
        },
      };
    }),
    waitForStableTask<Scale>('waitForManifestToStabilize', {
      key: 'scale.wait',
      objects: ({ stage }) => ({ account: stage.context.account, refs: stage.context['scale.targets'] ?? [] }),
    }),
  ],
});
