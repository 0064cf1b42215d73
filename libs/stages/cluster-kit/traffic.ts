import { ClusterPort, type WriteOptions } from './cluster.port';
import { LABELS } from './labels';
import { describeRef, isRecord, parseKindName } from './manifest';
import { StageFailure } from './stage-support';

/**
 * Traffic is a Service selector: Jibe points a Service at one server group by setting the cluster and version
 * labels in its selector, in ONE update, so endpoints move from the old version's ready pods to the new one's
 * without ever mixing them (Spinnaker instead relabels pods one by one, docs/spinnaker.md#traffic-strategies).
 */

/**
 * How a traffic switch writes a Service. The pipeline names the Services it routes through (a server group's
 * load-balancers annotation, `trafficManagement.options.services`, an enable/disable stage's `services`), and
 * Spinnaker's own pipelines route through Services made outside them (its blue/green example's `hellosvc` is made
 * with kubectl). Naming the Service is the stage saying so, so the managed-by rule does not refuse it; Jibe writes
 * only the two selector keys it owns ({@link LABELS}.cluster and .version) and never adopts, relabels or deletes it.
 */
export const NAMED_SERVICE_WRITE: WriteOptions = { allowUnmanaged: true };

/** The value no pod carries: a Service selecting it has no endpoints (a disabled server group). */
export const NO_VERSION = 'none';

/** `"service web"` or `"web"` → `web`; anything else (another kind) is an error naming the entry. */
export function serviceName(entry: string, path: string): string {
  const parsed = parseKindName(entry);
  if (parsed) {
    if (parsed.kind !== 'Service') throw new StageFailure(`${path}: "${entry}" is not a service`, 'INVALID_CONFIG');
    return parsed.name;
  }
  const name = entry.trim();
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    throw new StageFailure(`${path}: "${entry}" is not a service name`, 'INVALID_CONFIG');
  }
  return name;
}

/** The version a Service selects for a cluster, or undefined when its selector pins none. */
export function selectedVersion(selector: Record<string, string>, cluster: string): string | undefined {
  if (selector[LABELS.cluster] !== undefined && selector[LABELS.cluster] !== cluster) return undefined;
  return selector[LABELS.version];
}

export async function serviceSelector(
  port: ClusterPort,
  account: string,
  namespace: string,
  name: string,
): Promise<Record<string, string>> {
  const service = await port.get(account, { kind: 'Service', name, namespace });
  if (!service) {
    throw new StageFailure(
      `${describeRef({ kind: 'Service', name, namespace })} does not exist; traffic cannot be switched`,
      'SERVICE_NOT_FOUND',
    );
  }
  const selector = service.spec?.['selector'];
  return isRecord(selector) ? (selector as Record<string, string>) : {};
}

/**
 * Points each Service at `version` of `cluster`. Safe to run twice: a Service already there is not written.
 * Returns the version each Service selected before (for rollback and outputs).
 */
export async function pointServices(
  port: ClusterPort,
  account: string,
  namespace: string,
  services: readonly string[],
  target: { cluster: string; version: string },
): Promise<Record<string, string | null>> {
  const previous: Record<string, string | null> = {};
  for (const name of services) {
    const selector = await serviceSelector(port, account, namespace, name);
    const current = selectedVersion(selector, target.cluster);
    previous[name] = current ?? null;
    if (current === target.version && selector[LABELS.cluster] === target.cluster) continue;
    await port.patch(
      account,
      { kind: 'Service', name, namespace },
      { spec: { selector: { [LABELS.cluster]: target.cluster, [LABELS.version]: target.version } } },
      'merge',
      NAMED_SERVICE_WRITE,
    );
  }
  return previous;
}
