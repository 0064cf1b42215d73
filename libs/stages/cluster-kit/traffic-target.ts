import { type TaskContext } from '@jibe/domain';
import { z } from 'zod';
import { type KubeObject } from './cluster.port';
import { describeRef, loadBalancersOf } from './manifest';
import { formatVersion, parseVersionedName } from './server-groups';
import { clusterPortOf, kubernetesStageKeys, StageFailure, stageNamespace } from './stage-support';
import { checkTarget, resolveTarget, targetKeys } from './target';
import { serviceName } from './traffic';

/** enableManifest/disableManifest config: a server group (static or dynamic) and, optionally, the Services. */
export const trafficTargetConfig = z
  .looseObject({
    ...kubernetesStageKeys,
    ...targetKeys,
    /** `["service web"]`; defaults to the Services the server group was deployed with (its load-balancers annotation). */
    services: z.array(z.string()).optional(),
  })
  .superRefine((c, issues) => checkTarget(c, issues));

export interface TrafficTarget {
  account: string;
  namespace: string;
  object: KubeObject;
  cluster: string;
  version: string;
  services: string[];
}

/** Resolves the server group and its Services, failing with what is missing. */
export async function resolveTrafficTarget(
  context: TaskContext<z.output<typeof trafficTargetConfig>>,
): Promise<TrafficTarget> {
  const c = context.stage.context;
  const port = clusterPortOf(context);
  const namespace = stageNamespace(c, port, c.account);
  const target = await resolveTarget(port, c.account, namespace, c);
  const object = target.serverGroup?.object ?? (await port.get(c.account, target));
  if (!object) throw new StageFailure(`${describeRef(target)} does not exist`, 'TARGET_NOT_FOUND');
  const parsed = parseVersionedName(target.name);
  if (!parsed) {
    throw new StageFailure(
      `${describeRef(target)} is not a server group (a version named <name>-vNNN deployed by deployManifest)`,
      'INVALID_TARGET',
    );
  }
  const services = [
    ...new Set(
      (c.services ?? loadBalancersOf(object)).map((s, i) =>
        serviceName(s, c.services ? `services[${i}]` : 'load-balancers'),
      ),
    ),
  ];
  if (services.length === 0) {
    throw new StageFailure(
      `no Services for ${describeRef(target)}: set services, or deploy it with trafficManagement.options.services`,
      'NO_SERVICES',
    );
  }
  return {
    account: c.account,
    namespace,
    object,
    cluster: parsed.cluster,
    version: formatVersion(parsed.sequence),
    services,
  };
}
