import {
  type Pod,
  type PodTemplateSpec,
  type StatefulSet,
  cloneJson,
  deepEqual,
  isRecord,
  safeHash,
  stableStringify,
} from '../kube-object';
import { type StoreEvent } from '../object-store';
import { type Controller, type ControllerContext } from './controller-context';
import { availability, createPod, deletePod, isActive, isReady, ownedPods, ownerRef } from './pod-helpers';

const REVISION_LABEL = 'controller-revision-hash';

/**
 * The StatefulSet controller: ordinal pods `<name>-<i>` created and removed in order (OrderedReady) or all at once
 * (Parallel), PVCs from volumeClaimTemplates, ControllerRevisions, and rolling updates from the highest ordinal down
 * to the partition, with currentRevision/updateRevision reported as kubectl and Spinnaker expect.
 */
export class StatefulSetController implements Controller {
  constructor(private readonly ctx: ControllerContext) {}

  onEvent(e: StoreEvent): void {
    const { types } = this.ctx;
    if (e.resource === types.statefulSet) {
      if (e.type !== 'DELETED') this.enqueue(e.object.metadata.namespace ?? '', e.object.metadata.name ?? '');
    } else if (e.resource === types.pod) {
      const owner = e.object.metadata.ownerReferences?.find((o) => o.controller && o.kind === 'StatefulSet');
      if (owner) this.enqueue(e.object.metadata.namespace ?? '', owner.name);
    }
  }

  private enqueue(ns: string, name: string): void {
    this.ctx.queue.enqueue(`statefulset/${ns}/${name}`, () => this.sync(ns, name));
  }

  private revision(sts: StatefulSet, template: PodTemplateSpec): string {
    return `${sts.metadata.name ?? ''}-${safeHash(stableStringify(template))}`;
  }

  private ensureRevision(sts: StatefulSet, name: string): void {
    const { api, types, store } = this.ctx;
    if (api.tryGet(types.controllerRevision, sts.metadata.namespace, name)) return;
    const existing = store.dependents(sts.metadata.uid ?? '').filter((d) => d.resource === types.controllerRevision);
    const max = Math.max(0, ...existing.map((d) => Number(d.object.revision ?? 0)));
    api.create(types.controllerRevision, sts.metadata.namespace, {
      metadata: {
        name,
        labels: {
          ...(sts.spec.template.metadata?.labels ?? {}),
          [REVISION_LABEL]: name.slice((sts.metadata.name ?? '').length + 1),
        },
        ownerReferences: [ownerRef(sts)],
      },
      data: { spec: { template: sts.spec.template } },
      revision: max + 1,
    });
  }

  private templateFor(sts: StatefulSet, revision: string): PodTemplateSpec {
    const cr = this.ctx.api.tryGet(this.ctx.types.controllerRevision, sts.metadata.namespace, revision);
    const data = isRecord(cr?.data) ? cr.data : {};
    const spec = isRecord(data.spec) ? data.spec : {};
    return isRecord(spec.template) ? (spec.template as unknown as PodTemplateSpec) : sts.spec.template;
  }

  private sync(ns: string, name: string): void {
    const { api, types, clock } = this.ctx;
    const sts = api.tryGet(types.statefulSet, ns, name) as StatefulSet | undefined;
    if (!sts || sts.metadata.deletionTimestamp) return;
    const replicas = sts.spec.replicas ?? 1;
    const ordered = sts.spec.podManagementPolicy !== 'Parallel';
    const updateRevision = this.revision(sts, sts.spec.template);
    this.ensureRevision(sts, updateRevision);
    const currentRevision = sts.status?.currentRevision ?? updateRevision;
    const partition =
      sts.spec.updateStrategy?.type === 'OnDelete'
        ? replicas
        : (sts.spec.updateStrategy?.rollingUpdate?.partition ?? 0);
    const pods = ownedPods(this.ctx, sts.metadata.uid ?? '');
    const byOrdinal = new Map<number, Pod>();
    for (const p of pods) {
      const ord = Number((p.metadata.name ?? '').slice(name.length + 1));
      if (!Number.isNaN(ord)) byOrdinal.set(ord, p);
    }
    const healthy = (p: Pod | undefined): boolean => !!p && isActive(p) && isReady(p);
    let changed = false;
    for (let i = 0; i < replicas; i++) {
      const p = byOrdinal.get(i);
      if (p && (p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded') && !p.metadata.deletionTimestamp) {
        deletePod(this.ctx, p);
        changed = true;
        break;
      }
      if (p) {
        if (ordered && !healthy(p)) break;
        continue;
      }
      const revision = i < partition ? currentRevision : updateRevision;
      this.createClaims(sts, i);
      createPod(this.ctx, sts, cloneJson(this.templateFor(sts, revision)), {
        name: `${name}-${i}`,
        labels: {
          [REVISION_LABEL]: revision,
          'statefulset.kubernetes.io/pod-name': `${name}-${i}`,
          'apps.kubernetes.io/pod-index': String(i),
        },
        hostname: `${name}-${i}`,
        ...(sts.spec.serviceName ? { subdomain: sts.spec.serviceName } : {}),
      });
      changed = true;
      if (ordered) break;
    }
    if (!changed) {
      const extra = [...byOrdinal.entries()]
        .filter(([i, p]) => i >= replicas && !p.metadata.deletionTimestamp)
        .sort((a, b) => b[0] - a[0]);
      const allHealthy = [...byOrdinal.entries()].filter(([i]) => i < replicas).every(([, p]) => healthy(p));
      for (const [, p] of ordered ? extra.slice(0, allHealthy ? 1 : 0) : extra) {
        deletePod(this.ctx, p);
        changed = true;
      }
    }
    const allPresentHealthy = Array.from({ length: replicas }, (_, i) => byOrdinal.get(i)).every(healthy);
    if (!changed && allPresentHealthy && sts.spec.updateStrategy?.type !== 'OnDelete') {
      for (let i = replicas - 1; i >= partition; i--) {
        const p = byOrdinal.get(i);
        if (p && p.metadata.labels?.[REVISION_LABEL] !== updateRevision && !p.metadata.deletionTimestamp) {
          deletePod(this.ctx, p);
          break;
        }
      }
    }
    const live = ownedPods(this.ctx, sts.metadata.uid ?? '').filter((p) => !p.metadata.deletionTimestamp);
    const minReady = sts.spec.minReadySeconds ?? 0;
    const updated = live.filter((p) => p.metadata.labels?.[REVISION_LABEL] === updateRevision).length;
    const ready = live.filter(isReady).length;
    const done = updated === replicas && ready === replicas && live.length === replicas;
    const status: StatefulSet['status'] = {
      observedGeneration: sts.metadata.generation ?? 1,
      replicas: live.length,
      readyReplicas: ready,
      availableReplicas: live.filter((p) => availability(p, minReady, clock.now()).available).length,
      currentReplicas: done
        ? updated
        : live.filter((p) => p.metadata.labels?.[REVISION_LABEL] === currentRevision).length,
      updatedReplicas: updated,
      currentRevision: done ? updateRevision : currentRevision,
      updateRevision,
      collisionCount: 0,
    };
    if (!deepEqual(status, sts.status)) api.replaceStatus(types.statefulSet, sts, status);
  }

  private createClaims(sts: StatefulSet, ordinal: number): void {
    const { api, types } = this.ctx;
    for (const t of sts.spec.volumeClaimTemplates ?? []) {
      const claim = `${t.metadata.name ?? ''}-${sts.metadata.name ?? ''}-${ordinal}`;
      if (api.tryGet(types.pvc, sts.metadata.namespace, claim)) continue;
      api.create(types.pvc, sts.metadata.namespace, {
        metadata: { name: claim, labels: { ...(sts.spec.selector.matchLabels ?? {}) } },
        spec: isRecord(t.spec) ? cloneJson(t.spec) : {},
      });
    }
  }
}
