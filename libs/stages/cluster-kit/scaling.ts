import { type ClusterPort, type KubeObject, type ObjectRef, type WriteOptions } from './cluster.port';
import { ANNOTATIONS } from './labels';
import { describeRef, refOf, replicasOf } from './manifest';

/**
 * Scaling that can be undone: the count before a scale is kept in the `jibe.dev/previous-replicas` annotation on
 * the object itself, so an environment scaled in to 0 can be restored later, by another execution, even after
 * Jibe's own database is gone. Safe to run twice: a second scale-in finds 0 and keeps the remembered count.
 */
export async function scaleTo(
  port: ClusterPort,
  account: string,
  object: KubeObject,
  replicas: number,
  options: WriteOptions & { scaledBy?: string } = {},
): Promise<{ ref: ObjectRef; from: number; to: number; changed: boolean }> {
  const ref = refOf(object);
  const current = replicasOf(object);
  if (current === replicas) return { ref, from: current, to: replicas, changed: false };
  // A count of 0 is never remembered: restoring to 0 would lose the count from before the first scale-in.
  // The run's stamp goes in the same patch as the count, so no crash can leave one without the other.
  const annotations = {
    ...(current > 0 ? { [ANNOTATIONS.previousReplicas]: String(current) } : {}),
    ...(options.scaledBy !== undefined ? { [ANNOTATIONS.scaledDownBy]: options.scaledBy } : {}),
  };
  const remember = Object.keys(annotations).length > 0 ? { metadata: { annotations } } : {};
  const write = options.allowUnmanaged === true ? { allowUnmanaged: true } : {};
  await port.patch(account, ref, { ...remember, spec: { replicas } }, 'merge', write);
  return { ref, from: current, to: replicas, changed: true };
}

/**
 * Puts back the remembered count and forgets it (and which run scaled it in); an object with nothing remembered is
 * left as it is.
 */
export async function restore(
  port: ClusterPort,
  account: string,
  object: KubeObject,
  options: WriteOptions = {},
): Promise<{ ref: ObjectRef; from: number; to: number; changed: boolean; remembered: boolean }> {
  const ref = refOf(object);
  const current = replicasOf(object);
  const remembered = object.metadata.annotations?.[ANNOTATIONS.previousReplicas];
  const previous = remembered === undefined ? NaN : Number(remembered);
  if (!Number.isInteger(previous) || previous < 0) {
    return { ref, from: current, to: current, changed: false, remembered: false };
  }
  await port.patch(
    account,
    ref,
    {
      metadata: { annotations: { [ANNOTATIONS.previousReplicas]: null, [ANNOTATIONS.scaledDownBy]: null } },
      spec: { replicas: previous },
    },
    'merge',
    options,
  );
  return { ref, from: current, to: previous, changed: current !== previous, remembered: true };
}

export function describeScale(result: { ref: ObjectRef; from: number; to: number }): string {
  return `${describeRef(result.ref)}: ${result.from} → ${result.to}`;
}
