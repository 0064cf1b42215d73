import { defineStage, type StageTypes } from '@jibe/domain';
import { z } from 'zod';
import { describeRef, refOf, replicasOf } from '../cluster-kit/manifest';
import { clusterPortOf, StageFailure } from '../cluster-kit/stage-support';
import { pointServices } from '../cluster-kit/traffic';
import { resolveTrafficTarget, trafficTargetConfig } from '../cluster-kit/traffic-target';
import { waitForStableTask } from '../cluster-kit/wait-for-stable.task';

const outputs = z.object({
  enabledServerGroup: z.string(),
  services: z.array(z.string()),
  previousVersions: z.record(z.string(), z.string().nullable()),
});

type Enable = StageTypes<typeof trafficTargetConfig, z.ZodObject, typeof outputs>;

/**
 * Sends a server group's Services to it (Spinnaker's Enable (Manifest)), each in one selector update, once the
 * server group is stable; a rollback is an enable of the previous version.
 */
export const enableManifestStage = defineStage({
  type: 'enableManifest',
  description: 'Point the Services at a server group (one selector update each), once it is stable.',
  config: trafficTargetConfig,
  outputs,
  tasks: [
    waitForStableTask<Enable>('enableManifest', {
      key: 'enable.wait',
      objects: async (context) => {
        const target = await resolveTrafficTarget(context);
        // A version scaled in to zero is "stable" with nothing to serve: sending traffic there is an outage.
        if (replicasOf(target.object) === 0) {
          throw new StageFailure(
            `refusing to send traffic to ${describeRef(refOf(target.object))}: it has 0 replicas; scale it up first ` +
              '(scaleManifest with replicas, or restore: true), then enable it',
            'NO_CAPACITY',
          );
        }
        return { account: target.account, refs: [refOf(target.object)] };
      },
      then: async (context) => {
        const target = await resolveTrafficTarget(context);
        const port = clusterPortOf(context);
        const previous = await pointServices(port, target.account, target.namespace, target.services, target);
        return {
          status: 'SUCCEEDED',
          outputs: {
            enabledServerGroup: describeRef(refOf(target.object)),
            services: target.services,
            previousVersions: previous,
          },
        };
      },
    }),
  ],
});
