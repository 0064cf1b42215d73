import { defineStage, type TaskResult } from '@jibe/domain';
import { describeRef, refOf, replicasOf } from '../kubernetes/manifest';
import { checkStable, cluster, clusterTask, StageFailure, stableTimeoutMs } from '../kubernetes/stage-support';
import { pointServices } from '../kubernetes/traffic';
import { resolveTrafficTarget, trafficTargetConfig } from '../kubernetes/traffic-target';

/**
 * Sends a server group's Services to it (Spinnaker's Enable (Manifest)), each in one selector update, once the
 * server group is stable; a rollback is an enable of the previous version.
 */
export const enableManifestStage = defineStage({
  type: 'enableManifest',
  description: 'Point the Services at a server group (one selector update each), once it is stable.',
  config: trafficTargetConfig,
  tasks: [
    clusterTask('enableManifest', async (context): Promise<TaskResult> => {
      const target = await resolveTrafficTarget(context);
      // A version scaled in to zero is "stable" with nothing to serve: sending traffic there is an outage.
      if (replicasOf(target.object) === 0) {
        throw new StageFailure(
          `refusing to send traffic to ${describeRef(refOf(target.object))}: it has 0 replicas; scale it up first ` +
            '(scaleManifest with replicas, or restore: true), then enable it',
          'NO_CAPACITY',
        );
      }
      const waiting = await checkStable(context, target.account, [refOf(target.object)], {
        key: 'enable.wait',
        timeoutMs: stableTimeoutMs(context.stage.context),
      });
      if (waiting) return waiting;
      const previous = await pointServices(cluster(context), target.account, target.namespace, target.services, target);
      return {
        status: 'SUCCEEDED',
        outputs: {
          enabledServerGroup: describeRef(refOf(target.object)),
          services: target.services,
          previousVersions: previous,
        },
      };
    }),
  ],
});
