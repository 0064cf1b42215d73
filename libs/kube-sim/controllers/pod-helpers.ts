import {
  type KubeObject,
  type OwnerReference,
  type Pod,
  type PodTemplateSpec,
  cloneJson,
  getCondition,
} from '../kube-object';
import { type TimerHandle } from '../sim-clock';
import { type ControllerContext } from './controller-context';

export function isActive(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return !pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

export function isReady(pod: Pod): boolean {
  return getCondition(pod.status?.conditions, 'Ready')?.status === 'True';
}

/** Available = ready for at least minReadySeconds; also returns when a ready-but-not-yet-available pod will be. */
export function availability(pod: Pod, minReadySeconds: number, now: number): { available: boolean; at?: number } {
  const ready = getCondition(pod.status?.conditions, 'Ready');
  if (ready?.status !== 'True') return { available: false };
  if (minReadySeconds <= 0) return { available: true };
  const at = Date.parse(ready.lastTransitionTime ?? '') + minReadySeconds * 1000;
  return Number.isNaN(at) || at <= now ? { available: true } : { available: false, at };
}

/** Pods whose controller reference points at `uid`. */
export function ownedPods(ctx: ControllerContext, uid: string): Pod[] {
  return ctx.store
    .dependents(uid)
    .filter(
      (d) =>
        d.resource === ctx.types.pod &&
        d.object.metadata.ownerReferences?.some((o) => o.uid === uid && o.controller === true),
    )
    .map((d) => d.object as Pod);
}

export function ownerRef(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Creates a pod from a template, owned by `owner`. */
export function createPod(
  ctx: ControllerContext,
  owner: KubeObject,
  template: PodTemplateSpec,
  extra: {
    name?: string;
    labels?: Record<string, string>;
    nodeName?: string;
    hostname?: string;
    subdomain?: string;
  } = {},
): Pod | undefined {
  const spec = cloneJson(template.spec);
  if (extra.nodeName) spec.nodeName = extra.nodeName;
  if (extra.hostname) spec.hostname = extra.hostname;
  if (extra.subdomain) spec.subdomain = extra.subdomain;
  const body = {
    metadata: {
      ...(extra.name ? { name: extra.name } : { generateName: `${owner.metadata.name ?? ''}-` }),
      labels: { ...(template.metadata?.labels ?? {}), ...(extra.labels ?? {}) },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [ownerRef(owner)],
    },
    spec,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return ctx.api.create(ctx.types.pod, owner.metadata.namespace, body) as Pod;
    } catch (err) {
      if (extra.name || attempt === 2) throw err;
    }
  }
  return undefined;
}

/** Deletes pods, ignoring the ones already gone. */
export function deletePod(ctx: ControllerContext, pod: Pod): void {
  try {
    ctx.api.delete(ctx.types.pod, pod.metadata.namespace, pod.metadata.name ?? '', {});
  } catch {
    // Gone already.
  }
}

/** One pending "look again at" timer per key, keeping the earliest. */
export class Resync {
  private readonly timers = new Map<string, { at: number; handle: TimerHandle }>();

  constructor(private readonly ctx: ControllerContext) {}

  at(key: string, when: number, fn: () => void): void {
    const existing = this.timers.get(key);
    if (existing && existing.at <= when) return;
    if (existing) this.ctx.clock.clearTimer(existing.handle);
    const handle = this.ctx.clock.setTimer(Math.max(0, when - this.ctx.clock.now()), () => {
      this.timers.delete(key);
      this.ctx.queue.enqueue(key, fn);
    });
    this.timers.set(key, { at: when, handle });
  }
}

/** Lower rank is deleted first when scaling down (unscheduled, pending, not ready, then newest). */
export function deletionRank(pod: Pod): number {
  if (!pod.spec.nodeName) return 0;
  if (pod.status?.phase === 'Pending') return 1;
  if (!isReady(pod)) return 2;
  return 3;
}
