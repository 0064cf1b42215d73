import { type Pod, type ReplicaSet, type ReplicaSetStatus, controllerOf, deepEqual } from '../kube-object';
import { matchesSelector, selectorFromLabelSelector } from '../label-selector';
import { type StoreEvent } from '../object-store';
import { type Controller, type ControllerContext } from './controller-context';
import { Resync, availability, createPod, deletePod, deletionRank, isActive, isReady, ownedPods } from './pod-helpers';

/** Keeps `spec.replicas` pods per ReplicaSet and reports replicas / ready / available counts. */
export class ReplicaSetController implements Controller {
  private readonly resync: Resync;

  constructor(private readonly ctx: ControllerContext) {
    this.resync = new Resync(ctx);
  }

  onEvent(e: StoreEvent): void {
    const { types } = this.ctx;
    if (e.resource === types.replicaSet) {
      if (e.type !== 'DELETED') this.enqueue(e.object.metadata.namespace ?? '', e.object.metadata.name ?? '');
    } else if (e.resource === types.pod) {
      const owner = controllerOf(e.object);
      if (owner?.kind === 'ReplicaSet') this.enqueue(e.object.metadata.namespace ?? '', owner.name);
    }
  }

  private key(ns: string, name: string): string {
    return `replicaset/${ns}/${name}`;
  }

  private enqueue(ns: string, name: string): void {
    this.ctx.queue.enqueue(this.key(ns, name), () => this.sync(ns, name));
  }

  private sync(ns: string, name: string): void {
    const { api, types, clock } = this.ctx;
    const rs = api.tryGet(types.replicaSet, ns, name) as ReplicaSet | undefined;
    if (!rs) return;
    const pods = ownedPods(this.ctx, rs.metadata.uid ?? '');
    const active = pods.filter(isActive);
    const want = rs.spec.replicas ?? 1;
    if (!rs.metadata.deletionTimestamp) {
      if (active.length < want) {
        for (let i = active.length; i < want; i++) {
          const pod = createPod(this.ctx, rs, rs.spec.template);
          if (pod) active.push(pod);
        }
      } else if (active.length > want) {
        const victims = [...active].sort(
          (a, b) =>
            deletionRank(a) - deletionRank(b) ||
            (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
        );
        for (const pod of victims.slice(0, active.length - want)) deletePod(this.ctx, pod);
      }
    }
    const current = ownedPods(this.ctx, rs.metadata.uid ?? '').filter(isActive);
    const minReady = rs.spec.minReadySeconds ?? 0;
    const now = clock.now();
    let available = 0;
    let nextAvailable: number | undefined;
    for (const p of current) {
      const a = availability(p, minReady, now);
      if (a.available) available++;
      else if (a.at !== undefined) nextAvailable = Math.min(nextAvailable ?? a.at, a.at);
    }
    if (nextAvailable !== undefined) this.resync.at(this.key(ns, name), nextAvailable, () => this.sync(ns, name));
    const selector = selectorFromLabelSelector(
      rs.spec.template.metadata?.labels ? { matchLabels: rs.spec.template.metadata.labels } : undefined,
    );
    const status: ReplicaSetStatus = {
      replicas: current.length,
      fullyLabeledReplicas: current.filter((p: Pod) => matchesSelector(selector, p.metadata.labels)).length,
      readyReplicas: current.filter(isReady).length,
      availableReplicas: available,
      observedGeneration: rs.metadata.generation ?? 1,
    };
    if (!deepEqual(status, rs.status)) api.replaceStatus(types.replicaSet, rs, status);
  }
}
