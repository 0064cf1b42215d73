import { defineStage, type StageTypes } from '@jibe/domain';
import { z } from 'zod';
import { type KubeObject } from '../cluster-kit/cluster.port';
import { describeRef, podTemplateOf } from '../cluster-kit/manifest';
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
import { checkTarget, resolveTarget, targetKeys } from '../cluster-kit/target';
import { waitForStableTask } from '../cluster-kit/wait-for-stable.task';

const REVISION = 'deployment.kubernetes.io/revision';
const TARGET_KEY = 'undo.target';

const config = z
  .looseObject({
    ...kubernetesStageKeys,
    ...targetKeys,
    numRevisionsBack: count.optional(),
    revision: count.optional(),
  })
  .superRefine((c, issues) => {
    checkTarget(c, issues);
    if (c.numRevisionsBack !== undefined && c.revision !== undefined) {
      issues.addIssue({
        code: 'custom',
        path: ['revision'],
        message: 'set either revision or numRevisionsBack, not both',
      });
    }
  });

/** The rollback, chosen once: which Deployment, from and to which revision, and the pod template to put back. */
const undoTarget = z.object({
  account: z.string(),
  namespace: z.string(),
  name: z.string(),
  fromRevision: z.number(),
  toRevision: z.number(),
  template: z.record(z.string(), z.unknown()),
});

const state = z.object({ [TARGET_KEY]: undoTarget });

const outputs = z.object({ fromRevision: z.number(), toRevision: z.number() });

type Undo = StageTypes<typeof config, typeof state, typeof outputs>;

/**
 * Rolls a Deployment back to an earlier revision (as `kubectl rollout undo`): the pod template of the ReplicaSet
 * holding that revision replaces the Deployment's. The target is chosen once and kept, so a re-run does not go back
 * one revision more (the rollback itself makes a new revision).
 */
export const undoRolloutManifestStage = defineStage({
  type: 'undoRolloutManifest',
  description: 'Roll a Deployment back to an earlier revision and wait until it is stable.',
  config,
  state,
  outputs,
  tasks: [
    clusterTask<Undo>('resolveRevision', async (context) => {
      const c = context.stage.context;
      if (c[TARGET_KEY]) return { status: 'SUCCEEDED' };
      const port = clusterPortOf(context);
      const namespace = stageNamespace(c, port, c.account);
      const ref = await resolveTarget(port, c.account, namespace, c);
      if (ref.kind !== 'Deployment') {
        throw new StageFailure(
          `undoRolloutManifest works on Deployments; ${describeRef(ref)} is not one`,
          'INVALID_TARGET',
        );
      }
      const deployment = await port.get(c.account, ref);
      if (!deployment) throw new StageFailure(`${describeRef(ref)} does not exist`, 'TARGET_NOT_FOUND');
      const owned = (await port.list(c.account, { kind: 'ReplicaSet', namespace })).filter((rs) =>
        (rs.metadata.ownerReferences ?? []).some((o) => o.uid === deployment.metadata.uid),
      );
      const revisions = owned
        .map((rs) => ({ rs, revision: Number(rs.metadata.annotations?.[REVISION]) }))
        .filter((r) => Number.isInteger(r.revision))
        .sort((a, b) => b.revision - a.revision);
      const current = Number(deployment.metadata.annotations?.[REVISION] ?? revisions[0]?.revision);
      const wanted =
        c.revision !== undefined
          ? revisions.find((r) => r.revision === toCount(c.revision, 'revision'))
          : revisions.filter((r) => r.revision !== current)[toCount(c.numRevisionsBack ?? 1, 'numRevisionsBack') - 1];
      if (!wanted) {
        throw new StageFailure(
          `${describeRef(ref)} has no ${c.revision !== undefined ? `revision ${String(c.revision)}` : `revision ${String(c.numRevisionsBack ?? 1)} back`} (revisions: ${revisions.map((r) => r.revision).join(', ') || 'none'})`,
          'REVISION_NOT_FOUND',
        );
      }
      const target: z.input<typeof undoTarget> = {
        account: c.account,
        namespace,
        name: ref.name,
        fromRevision: current,
        toRevision: wanted.revision,
        template: templateOf(wanted.rs),
      };
      return { status: 'SUCCEEDED', context: { [TARGET_KEY]: target } };
    }),
    clusterTask<Undo>('undoRollout', async (context) => {
      const target = chosen(context.stage.context);
      await clusterPortOf(context).patch(
        target.account,
        { kind: 'Deployment', name: target.name, namespace: target.namespace },
        [{ op: 'replace', path: '/spec/template', value: target.template }],
        'json',
        writeOptions(context.stage.context),
      );
      return { status: 'SUCCEEDED', outputs: { fromRevision: target.fromRevision, toRevision: target.toRevision } };
    }),
    waitForStableTask<Undo>('waitForManifestToStabilize', {
      key: 'undo.wait',
      objects: ({ stage }) => {
        const target = chosen(stage.context);
        return {
          account: target.account,
          refs: [{ kind: 'Deployment', name: target.name, namespace: target.namespace }],
        };
      },
    }),
  ],
});

/** The rollback resolveRevision chose (it runs first, so a later task always finds one). */
function chosen(context: Undo['context']): z.output<typeof undoTarget> {
  const target = context[TARGET_KEY];
  if (!target) throw new StageFailure('no rollback target: resolveRevision has not run', 'INTERNAL');
  return target;
}

/** The ReplicaSet's pod template without the hash label its Deployment controller added. */
function templateOf(rs: KubeObject): Record<string, unknown> {
  const template = structuredClone(podTemplateOf(rs) ?? {});
  delete template.metadata?.labels?.['pod-template-hash'];
  return template;
}
