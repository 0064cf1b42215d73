import { defineStage, type StageTypes } from '@jibe/domain';
import { z } from 'zod';
import { objectRefSchema } from '../cluster-kit/cluster.port';
import { canonicalKind, describeRef } from '../cluster-kit/manifest';
import {
  clusterPortOf,
  clusterTask,
  kubernetesStageKeys,
  StageFailure,
  stageNamespace,
  writeOptions,
} from '../cluster-kit/stage-support';
import { checkTarget, resolveTarget, targetKeys } from '../cluster-kit/target';
import { waitForStableTask } from '../cluster-kit/wait-for-stable.task';

/** The pod-template annotation `kubectl rollout restart` sets; a new value is a new template, so new pods. */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/** The kinds `kubectl rollout restart` restarts (the ones whose controller rolls pods on a template change). */
const RESTARTABLE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

const TARGET_KEY = 'restart.target';
const RESTARTED_AT_KEY = 'restart.restartedAt';

const config = z
  .looseObject({ ...kubernetesStageKeys, ...targetKeys })
  .superRefine((c, issues) => checkTarget(c, issues));

const state = z.object({
  /** The workload chosen on the first run (a dynamic target is not chosen again). */
  [TARGET_KEY]: objectRefSchema,
  /** The annotation's value, chosen once: writing it again is a no-op, a new one would restart the pods again. */
  [RESTARTED_AT_KEY]: z.string(),
});

const outputs = z.object({ restartedAt: z.string(), manifest: z.string() });

type Restart = StageTypes<typeof config, typeof state, typeof outputs>;

/**
 * Spinnaker's "Rolling Restart (Manifest)": restarts a Deployment, StatefulSet or DaemonSet as `kubectl rollout
 * restart` does, by stamping its pod template with {@link RESTARTED_AT}, then waits until the rollout is stable.
 * The target and the timestamp are chosen by a first task and kept in the stage state, so a re-run (a crash, a
 * redelivered message) writes the same value again and the pods are restarted once.
 */
export const rollingRestartManifestStage = defineStage({
  type: 'rollingRestartManifest',
  description: 'Restart the pods of a Deployment, StatefulSet or DaemonSet (as kubectl rollout restart) and wait.',
  config,
  state,
  outputs,
  tasks: [
    clusterTask<Restart>('chooseRestart', async (context) => {
      const c = context.stage.context;
      if (c[TARGET_KEY] && c[RESTARTED_AT_KEY]) return { status: 'SUCCEEDED' };
      const port = clusterPortOf(context);
      const namespace = stageNamespace(c, port, c.account);
      const resolved = await resolveTarget(port, c.account, namespace, c);
      const ref = { kind: canonicalKind(resolved.kind), name: resolved.name, namespace };
      if (!RESTARTABLE_KINDS.has(ref.kind)) {
        throw new StageFailure(
          `rollingRestartManifest restarts Deployments, StatefulSets and DaemonSets; ${describeRef(ref)} is none`,
          'INVALID_TARGET',
        );
      }
      if (!(await port.get(c.account, ref))) {
        throw new StageFailure(`${describeRef(ref)} does not exist`, 'TARGET_NOT_FOUND');
      }
      return {
        status: 'SUCCEEDED',
        // kubectl writes RFC 3339 to the second (Go's time.RFC3339); the stage's clock, not the worker's, so the
        // value is the engine's record of when the stage ran.
        context: { [TARGET_KEY]: ref, [RESTARTED_AT_KEY]: new Date(context.now).toISOString().replace(/\.\d+Z$/, 'Z') },
      };
    }),
    clusterTask<Restart>('rollingRestart', async (context) => {
      const { ref, restartedAt } = chosen(context.stage.context);
      // The strategic merge patch kubectl sends: only this annotation changes, whoever owns the rest of the template.
      await clusterPortOf(context).patch(
        context.stage.context.account,
        ref,
        { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: restartedAt } } } } },
        'strategic',
        writeOptions(context.stage.context),
      );
      return { status: 'SUCCEEDED', outputs: { restartedAt, manifest: describeRef(ref) } };
    }),
    waitForStableTask<Restart>('waitForManifestToStabilize', {
      key: 'restart.wait',
      objects: ({ stage }) => ({ account: stage.context.account, refs: [chosen(stage.context).ref] }),
    }),
  ],
});

/** What chooseRestart chose (it runs first, so a later task always finds it). */
function chosen(context: Restart['context']): { ref: z.output<typeof objectRefSchema>; restartedAt: string } {
  const ref = context[TARGET_KEY];
  const restartedAt = context[RESTARTED_AT_KEY];
  if (!ref || !restartedAt) throw new StageFailure('no restart target: chooseRestart has not run', 'INTERNAL');
  return { ref, restartedAt };
}
