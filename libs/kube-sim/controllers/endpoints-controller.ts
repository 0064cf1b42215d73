import { type KubeObject, type Pod, type Service, deepEqual } from '../kube-object';
import { matchesSelector, selectorFromLabelSelector } from '../label-selector';
import { type StoreEvent } from '../object-store';
import { type Controller, type ControllerContext } from './controller-context';
import { isActive, isReady } from './pod-helpers';

/**
 * Keeps each selector Service's Endpoints and EndpointSlice in line with its pods: ready pods are addresses,
 * the others notReadyAddresses. Red/black traffic switches are judged by exactly this.
 */
export class EndpointsController implements Controller {
  constructor(private readonly ctx: ControllerContext) {}

  onEvent(e: StoreEvent): void {
    const { types, store } = this.ctx;
    const ns = e.object.metadata.namespace ?? '';
    if (e.resource === types.service) {
      this.enqueue(ns, e.object.metadata.name ?? '');
    } else if (e.resource === types.pod) {
      for (const svc of store.list(types.service, ns) as Service[]) {
        const sel = svc.spec.selector;
        if (!sel || Object.keys(sel).length === 0) continue;
        const selector = selectorFromLabelSelector({ matchLabels: sel });
        if (
          matchesSelector(selector, e.object.metadata.labels) ||
          (e.previous && matchesSelector(selector, e.previous.metadata.labels))
        )
          this.enqueue(ns, svc.metadata.name ?? '');
      }
    }
  }

  private enqueue(ns: string, name: string): void {
    this.ctx.queue.enqueue(`endpoints/${ns}/${name}`, () => this.sync(ns, name));
  }

  private sync(ns: string, name: string): void {
    const { api, types, store } = this.ctx;
    const svc = api.tryGet(types.service, ns, name) as Service | undefined;
    const existing = api.tryGet(types.endpoints, ns, name);
    const sliceName = `${name}-sim`;
    const existingSlice = api.tryGet(types.endpointSlice, ns, sliceName);
    if (!svc || svc.metadata.deletionTimestamp) {
      for (const [r, o] of [
        [types.endpoints, existing],
        [types.endpointSlice, existingSlice],
      ] as const) {
        if (o)
          try {
            api.delete(r, ns, o.metadata.name ?? '', {});
          } catch {
            // Gone already.
          }
      }
      return;
    }
    const sel = svc.spec.selector;
    if (!sel || Object.keys(sel).length === 0) return;
    const selector = selectorFromLabelSelector({ matchLabels: sel });
    const pods = (store.list(types.pod, ns) as Pod[]).filter(
      (p) => isActive(p) && p.status?.podIP && matchesSelector(selector, p.metadata.labels),
    );
    const address = (p: Pod): Record<string, unknown> => ({
      ip: p.status?.podIP ?? '',
      nodeName: p.spec.nodeName,
      targetRef: { kind: 'Pod', name: p.metadata.name, namespace: ns, uid: p.metadata.uid },
    });
    const ready = pods.filter(isReady);
    const notReady = pods.filter((p) => !isReady(p));
    const ports = (svc.spec.ports ?? []).map((sp) => {
      let port = typeof sp.targetPort === 'number' ? sp.targetPort : sp.port;
      if (typeof sp.targetPort === 'string') {
        const named = pods
          .flatMap((p) => p.spec.containers.flatMap((c) => c.ports ?? []))
          .find((cp) => cp.name === sp.targetPort);
        port = named?.containerPort ?? (Number(sp.targetPort) || sp.port);
      }
      return { ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP' };
    });
    const subsets =
      pods.length > 0
        ? [
            {
              ...(ready.length > 0 ? { addresses: ready.map(address) } : {}),
              ...(notReady.length > 0 ? { notReadyAddresses: notReady.map(address) } : {}),
              ports,
            },
          ]
        : [];
    const labels = { ...(svc.metadata.labels ?? {}) };
    this.upsert(types.endpoints, ns, existing, { metadata: { name, labels }, subsets });
    this.upsert(types.endpointSlice, ns, existingSlice, {
      metadata: {
        name: sliceName,
        labels: {
          ...labels,
          'kubernetes.io/service-name': name,
          'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        },
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            name,
            uid: svc.metadata.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      addressType: 'IPv4',
      endpoints: pods.map((p) => ({
        addresses: [p.status?.podIP ?? ''],
        conditions: { ready: isReady(p), serving: isReady(p), terminating: false },
        nodeName: p.spec.nodeName,
        targetRef: { kind: 'Pod', name: p.metadata.name, namespace: ns, uid: p.metadata.uid },
      })),
      ports,
    });
  }

  private upsert(
    r: Parameters<ControllerContext['api']['create']>[0],
    ns: string,
    existing: KubeObject | undefined,
    body: { metadata: KubeObject['metadata']; [key: string]: unknown },
  ): void {
    const { api } = this.ctx;
    if (!existing) {
      try {
        api.create(r, ns, body);
      } catch {
        // Namespace terminating: the namespace controller is removing everything anyway.
      }
      return;
    }
    const { metadata, ...rest } = body;
    const next = {
      ...existing,
      ...rest,
      metadata: {
        ...existing.metadata,
        labels: metadata.labels,
        ...(metadata.ownerReferences ? { ownerReferences: metadata.ownerReferences } : {}),
      },
    };
    if (!deepEqual(next, existing)) api.replace(r, next);
  }
}
