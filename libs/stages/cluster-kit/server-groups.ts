import { ClusterPort, type KubeObject } from './cluster.port';
import { LABELS } from './labels';
import { canonicalKind, describeRef, replicasOf } from './manifest';
import { type Criteria, StageFailure } from './stage-support';

/** One version (`name-vNNN`) of a workload: Spinnaker's server group. */
export interface ServerGroup {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  /** The workload's base name (the moniker cluster). */
  readonly cluster: string;
  /** `v003`. */
  readonly version: string;
  readonly sequence: number;
  readonly replicas: number;
  readonly object: KubeObject;
}

const VERSIONED_NAME = /^(.+)-v(\d{3,})$/;

/** `web-v012` → `{ cluster: 'web', sequence: 12 }`; undefined for an unversioned name. */
export function parseVersionedName(name: string): { cluster: string; sequence: number } | undefined {
  const match = VERSIONED_NAME.exec(name);
  return match ? { cluster: match[1]!, sequence: Number(match[2]) } : undefined;
}

export function formatVersion(sequence: number): string {
  return `v${String(sequence).padStart(3, '0')}`;
}

/**
 * The versions of a cluster in a namespace, oldest first. A version is a workload named `<cluster>-vNNN`; the
 * name decides, so versions deployed by Spinnaker (which carry no Jibe labels) are found as well.
 */
export async function listServerGroups(
  port: ClusterPort,
  account: string,
  ref: { kind: string; cluster: string; namespace: string },
): Promise<ServerGroup[]> {
  const kind = canonicalKind(ref.kind);
  const objects = await port.list(account, { kind, namespace: ref.namespace });
  const groups: ServerGroup[] = [];
  for (const object of objects) {
    const name = object.metadata.name ?? '';
    const parsed = parseVersionedName(name);
    if (!parsed || parsed.cluster !== ref.cluster) continue;
    groups.push({
      kind,
      name,
      namespace: ref.namespace,
      cluster: parsed.cluster,
      version: formatVersion(parsed.sequence),
      sequence: parsed.sequence,
      replicas: replicasOf(object),
      object,
    });
  }
  return groups.sort((a, b) => a.sequence - b.sequence);
}

/** The next version after the existing ones (`v000` for the first). */
export function nextSequence(groups: readonly ServerGroup[]): number {
  return groups.length === 0 ? 0 : Math.max(...groups.map((g) => g.sequence)) + 1;
}

/** Picks a server group by Spinnaker's criteria; ties on size go to the newest. */
export function selectServerGroup(groups: readonly ServerGroup[], criteria: Criteria): ServerGroup | undefined {
  const newestFirst = [...groups].sort((a, b) => b.sequence - a.sequence);
  switch (criteria) {
    case 'newest':
      return newestFirst[0];
    case 'second_newest':
      return newestFirst[1];
    case 'oldest':
      return newestFirst[newestFirst.length - 1];
    case 'largest':
      return [...newestFirst].sort((a, b) => b.replicas - a.replicas)[0];
    case 'smallest':
      return [...newestFirst].sort((a, b) => a.replicas - b.replicas)[0];
  }
}

/**
 * Resolves Spinnaker's dynamic target (`cluster: "replicaSet helloworld"`, `criteria: second_newest`) to the
 * workload's name, failing with what was found when nothing matches.
 */
export async function resolveDynamicTarget(
  port: ClusterPort,
  account: string,
  target: { kind: string; cluster: string; namespace: string; criteria: Criteria },
): Promise<ServerGroup> {
  const groups = await listServerGroups(port, account, target);
  const chosen = selectServerGroup(groups, target.criteria);
  if (!chosen) {
    throw new StageFailure(
      `no ${target.criteria.replace('_', ' ')} version of ${describeRef({ kind: target.kind, name: target.cluster, namespace: target.namespace })}: ` +
        (groups.length === 0 ? 'no versions exist' : `found only ${groups.map((g) => g.name).join(', ')}`),
      'TARGET_NOT_FOUND',
    );
  }
  return chosen;
}

/** The version label a server group's pods carry (set by deployManifest on the pod template). */
export function serverGroupLabels(cluster: string, version: string): Record<string, string> {
  return { [LABELS.cluster]: cluster, [LABELS.version]: version };
}
