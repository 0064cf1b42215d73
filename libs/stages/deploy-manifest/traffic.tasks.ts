import { type TaskResult } from '@jibe/domain';
import { describeRef, isManagedByJibe, refOf } from '../cluster-kit/manifest';
import { scaleTo } from '../cluster-kit/scaling';
import { listServerGroups } from '../cluster-kit/server-groups';
import { clusterPortOf, clusterTask } from '../cluster-kit/stage-support';
import { pointServices } from '../cluster-kit/traffic';
import { waitForStableTask } from '../cluster-kit/wait-for-stable.task';
import { planOf } from './apply-waves.task';
import { type DeployManifest } from './deploy-manifest.config';
import { type DeployPlan } from './deploy-plan';

function syncObjects(plan: DeployPlan) {
  return plan.steps.filter((s) => s.phase === 'Sync').flatMap((s) => s.objects);
}

/**
 * Every object of the deploy is stable (the waves waited for each; this is the last look, and the outputs).
 * Outputs use Spinnaker's names so `#stage('Deploy').outputs['outputs.manifestNamesByNamespace']` works.
 */
export const waitForDeployedTask = waitForStableTask<DeployManifest>('waitForManifestToStabilize', {
  key: 'deploy.final',
  objects: (context) => {
    const plan = planOf(context);
    return { account: plan.account, refs: namedSyncObjects(plan).map(refOf) };
  },
  then: (context) => {
    const plan = planOf(context);
    const objects = namedSyncObjects(plan);
    const byNamespace: Record<string, string[]> = {};
    for (const object of [...objects, ...plan.heldServices]) {
      const namespace = object.metadata.namespace ?? '';
      (byNamespace[namespace] ??= []).push(describeRef({ kind: object.kind, name: object.metadata.name ?? '' }));
    }
    return {
      status: 'SUCCEEDED',
      outputs: {
        manifests: [...objects, ...plan.heldServices],
        'outputs.manifestNamesByNamespace': byNamespace,
        deployedServerGroups: plan.serverGroups.map((g) => ({
          account: plan.account,
          namespace: g.namespace,
          kind: g.kind,
          name: g.name,
          cluster: g.cluster,
          version: g.version,
          reused: g.reused,
        })),
        hpaManagedReplicas: plan.hpaManaged,
        skippedHooks: plan.skippedHooks,
      },
    };
  },
});

function namedSyncObjects(plan: DeployPlan) {
  return syncObjects(plan).filter((o) => o.metadata.name);
}

/**
 * Points the traffic Services at the new version, each in one update, only once the version is stable (looked at
 * again right before the switch). A version that never becomes stable never gets traffic: the stage fails with
 * Kubernetes' reason while the old version keeps serving. Records what each Service pointed at before, for rollback.
 */
export const switchTrafficTask = waitForStableTask<DeployManifest>('switchTraffic', {
  key: 'deploy.switch',
  // Nothing to switch: no objects, so the wait is over at once and the switch below does nothing.
  objects: (context) => {
    const plan = planOf(context);
    return {
      account: plan.account,
      refs: trafficGroups(plan).map((g) => ({ kind: g.kind, name: g.name, namespace: g.namespace })),
    };
  },
  then: (context) => switchTraffic(context),
});

function trafficGroups(plan: DeployPlan) {
  return plan.serverGroups.filter((g) => g.services.length > 0);
}

async function switchTraffic(
  context: Parameters<typeof planOf>[0],
): Promise<TaskResult<DeployManifest['writes'], DeployManifest['outputs']>> {
  const plan = planOf(context);
  const port = clusterPortOf(context);
  const groups = trafficGroups(plan);
  if (groups.length === 0 && plan.heldServices.length === 0) return { status: 'SUCCEEDED' };
  // A Service created by this deploy is applied here, already pointing at the new version (or at none).
  if (plan.heldServices.length > 0) await port.apply(plan.account, plan.heldServices);
  const previous: Record<string, string | null> = { ...context.stage.context['deploy.previousVersions'] };
  if (plan.enableTraffic) {
    for (const group of groups) {
      const before = await pointServices(port, plan.account, group.trafficNamespace, group.services, group);
      for (const [service, version] of Object.entries(before)) {
        // A re-run finds the Service already switched; keep what it pointed at the first time.
        if (previous[service] === undefined || version !== group.version) previous[service] = version;
      }
    }
  }
  const switchedAt = context.stage.context['deploy.switchedAt'] ?? context.now;
  const rollback = groups.flatMap((g) =>
    g.services.map((service) => ({
      service,
      namespace: g.trafficNamespace,
      cluster: g.cluster,
      version: previous[service] ?? null,
      serverGroup:
        typeof previous[service] === 'string' && previous[service] !== g.version
          ? `${g.cluster}-${String(previous[service])}`
          : null,
    })),
  );
  return {
    status: 'SUCCEEDED',
    context: { 'deploy.previousVersions': previous, 'deploy.switchedAt': switchedAt },
    outputs: { trafficSwitched: plan.enableTraffic, previousServerGroups: rollback },
  };
}

/**
 * Red/black: after `delayBeforeScaleDownSeconds` (endpoints and kube-proxy lag the selector), scales every older
 * version of the cluster to 0, remembering its count for a rollback. Only versions Jibe manages are touched.
 */
export const scaleDownOldTask = clusterTask<DeployManifest>('scaleDownOld', async (context) => {
  const plan = planOf(context);
  if (plan.strategy !== 'redblack' || !plan.scaleDown || !plan.enableTraffic) return { status: 'SUCCEEDED' };
  const switchedAt = context.stage.context['deploy.switchedAt'] ?? context.now;
  const due = switchedAt + plan.delayBeforeScaleDownMs - context.now;
  if (due > 0) return { status: 'RUNNING', retryAfterMs: due };
  const port = clusterPortOf(context);
  const scaled: string[] = [];
  for (const group of plan.serverGroups) {
    for (const old of await listServerGroups(port, plan.account, group)) {
      if (old.sequence >= group.sequence || !isManagedByJibe(old.object)) continue;
      if ((await scaleTo(port, plan.account, old.object, 0)).changed) scaled.push(describeRef(old));
    }
  }
  return { status: 'SUCCEEDED', outputs: { scaledDownServerGroups: scaled } };
});

/**
 * Deletes versions beyond `maxVersionsToKeep` (newest kept, the new one always), or with highlander every older
 * version once the delay has passed. Never deletes what Jibe does not manage.
 */
export const cleanupTask = clusterTask<DeployManifest>('cleanup', async (context) => {
  const plan = planOf(context);
  const port = clusterPortOf(context);
  if (plan.strategy === 'highlander' && plan.enableTraffic) {
    const switchedAt = context.stage.context['deploy.switchedAt'] ?? context.now;
    const due = switchedAt + plan.delayBeforeScaleDownMs - context.now;
    if (due > 0) return { status: 'RUNNING', retryAfterMs: due };
  }
  const deleted: string[] = [];
  for (const group of plan.serverGroups) {
    // Without the switch the older versions still serve: highlander deletes nothing then.
    if (plan.strategy === 'highlander' && !plan.enableTraffic) continue;
    const keep = plan.strategy === 'highlander' ? 1 : group.maxVersionsToKeep;
    if (keep === null) continue;
    const groups = await listServerGroups(port, plan.account, group);
    const older = groups.filter((g) => g.sequence < group.sequence).sort((a, b) => b.sequence - a.sequence);
    for (const old of older.slice(Math.max(0, keep - 1))) {
      if (!isManagedByJibe(old.object)) continue;
      await port.delete(
        plan.account,
        { kind: old.kind, name: old.name, namespace: old.namespace },
        { propagationPolicy: 'Background' },
      );
      deleted.push(describeRef(old));
    }
  }
  return { status: 'SUCCEEDED', outputs: { deletedServerGroups: deleted } };
});
