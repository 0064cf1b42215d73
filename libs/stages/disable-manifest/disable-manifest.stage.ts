import { defineStage, type StageTypes } from '@jibe/domain';
import { z } from 'zod';
import { LABELS } from '../cluster-kit/labels';
import { describeRef, refOf } from '../cluster-kit/manifest';
import { clusterPortOf, clusterTask } from '../cluster-kit/stage-support';
import { NAMED_SERVICE_WRITE, NO_VERSION, selectedVersion, serviceSelector } from '../cluster-kit/traffic';
import { resolveTrafficTarget, trafficTargetConfig } from '../cluster-kit/traffic-target';

const outputs = z.object({ disabledServerGroup: z.string(), servicesWithoutTraffic: z.array(z.string()) });

type Disable = StageTypes<typeof trafficTargetConfig, z.ZodObject, typeof outputs>;

/**
 * Takes a server group out of its Services (Spinnaker's Disable (Manifest)). A Service pointing at another version
 * is left alone; one pointing at this version is pointed at no version, so it has no endpoints until an enable.
 */
export const disableManifestStage = defineStage({
  type: 'disableManifest',
  description: 'Stop the Services sending traffic to a server group.',
  config: trafficTargetConfig,
  outputs,
  tasks: [
    clusterTask<Disable>('disableManifest', async (context) => {
      const target = await resolveTrafficTarget(context);
      const port = clusterPortOf(context);
      const disabled: string[] = [];
      for (const service of target.services) {
        const selector = await serviceSelector(port, target.account, target.namespace, service);
        if (selectedVersion(selector, target.cluster) !== target.version) continue;
        await port.patch(
          target.account,
          { kind: 'Service', name: service, namespace: target.namespace },
          { spec: { selector: { [LABELS.version]: NO_VERSION } } },
          'merge',
          NAMED_SERVICE_WRITE,
        );
        disabled.push(service);
      }
      return {
        status: 'SUCCEEDED',
        outputs: { disabledServerGroup: describeRef(refOf(target.object)), servicesWithoutTraffic: disabled },
      };
    }),
  ],
});
