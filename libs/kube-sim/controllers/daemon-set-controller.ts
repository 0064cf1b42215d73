import { type DaemonSet, type Pod, deepEqual, safeHash, stableStringify } from '../kube-object';
import { type StoreEvent } from '../object-store';
import { type Controller, type ControllerContext } from './controller-context';
import { resolveIntOrPercent } from './deployment-controller';
import { availability, createPod, deletePod, isActive, isReady, ownedPods } from './pod-helpers';

const REVISION_LABEL = 'controller-revision-hash';

/** One pod per node, rolling updates limited by maxUnavailable, and the DaemonSet status counters. */
export class DaemonSetController implements Controller {
  constructor(private readonly ctx: ControllerContext) {}

  onEvent(e: StoreEvent): void {
    const { types } = this.ctx;
    if (e.resource === types.daemonSet) {
      if (e.type !== 'DELETED') this.enqueue(e.object.metadata.namespace ?? '', e.object.metadata.name ?? '');
    } else if (e.resource === types.pod) {
      const owner = e.object.metadata.ownerReferences?.find((o) => o.controller && o.kind === 'DaemonSet');
      if (owner) this.enqueue(e.object.metadata.namespace ?? '', owner.name);
    }
  }

  private enqueue(ns: string, name: string): void {
    this.ctx.queue.enqueue(`daemonset/${ns}/${name}`, () => this.sync(ns, name));
  }

  private sync(ns: string, name: string): void {
    const { api, types, clock, nodes } = this.ctx;
    const ds = api.tryGet(types.daemonSet, ns, name) as DaemonSet | undefined;
    if (!ds || ds.metadata.deletionTimestamp) return;
    const hash = safeHash(stableStringify(ds.spec.template));
    const pods = ownedPods(this.ctx, ds.metadata.uid ?? '').filter(isActive);
    const byNode = new Map<string, Pod[]>();
    for (const p of pods) byNode.set(p.spec.nodeName ?? '', [...(byNode.get(p.spec.nodeName ?? '') ?? []), p]);
    for (const node of nodes) {
      if ((byNode.get(node) ?? []).length === 0)
        createPod(this.ctx, ds, ds.spec.template, {
          nodeName: node,
          labels: { [REVISION_LABEL]: hash, 'pod-template-generation': String(ds.metadata.generation ?? 1) },
        });
    }
    for (const [node, list] of byNode) {
      if (!nodes.includes(node)) for (const p of list) deletePod(this.ctx, p);
      else for (const p of list.slice(1)) deletePod(this.ctx, p);
    }
    if (ds.spec.updateStrategy?.type !== 'OnDelete') {
      const maxUnavailable = Math.max(
        1,
        resolveIntOrPercent(ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, nodes.length, false),
      );
      const unavailable = nodes.filter((n) => !(byNode.get(n) ?? []).some(isReady)).length;
      let budget = maxUnavailable - unavailable;
      const old = pods
        .filter((p) => p.metadata.labels?.[REVISION_LABEL] !== hash)
        .sort((a, b) => Number(isReady(a)) - Number(isReady(b)));
      for (const p of old) {
        if (!isReady(p)) deletePod(this.ctx, p);
        else if (budget > 0) {
          deletePod(this.ctx, p);
          budget--;
        }
      }
    }
    const live = ownedPods(this.ctx, ds.metadata.uid ?? '').filter(isActive);
    const minReady = ds.spec.minReadySeconds ?? 0;
    const available = live.filter((p) => availability(p, minReady, clock.now()).available).length;
    const status: DaemonSet['status'] = {
      currentNumberScheduled: new Set(live.map((p) => p.spec.nodeName)).size,
      numberMisscheduled: 0,
      desiredNumberScheduled: nodes.length,
      numberReady: live.filter(isReady).length,
      observedGeneration: ds.metadata.generation ?? 1,
      updatedNumberScheduled: live.filter((p) => p.metadata.labels?.[REVISION_LABEL] === hash).length,
      numberAvailable: available,
      numberUnavailable: Math.max(0, nodes.length - available),
    };
    if (!deepEqual(status, ds.status)) api.replaceStatus(types.daemonSet, ds, status);
  }
}
