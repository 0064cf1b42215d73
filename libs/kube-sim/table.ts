import { type KubeObject, type Pod, isRecord } from './kube-object';
import { type ResourceType } from './resource-registry';

/** True when the client asked for server-side printing (`kubectl get` always does). */
export function wantsTable(accept: string): boolean {
  const first = accept.split(',')[0] ?? '';
  return first.includes('as=Table');
}

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  priority?: number;
  cell: (o: KubeObject, now: number) => string | number;
}

export function age(timestamp: string | undefined, now: number): string {
  if (!timestamp) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 > 0 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const rec = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});
const text = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);

function podStatus(o: KubeObject): string {
  const pod = o as Pod;
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  for (const c of pod.status?.containerStatuses ?? []) {
    if (c.state.waiting?.reason) return c.state.waiting.reason;
    if (c.state.terminated?.reason) return c.state.terminated.reason;
  }
  if (pod.status?.phase === 'Pending' && pod.spec.nodeName) return 'ContainerCreating';
  return pod.status?.phase ?? 'Unknown';
}

const NAME: Column = { name: 'Name', type: 'string', cell: (o) => o.metadata.name ?? '' };
const AGE: Column = { name: 'Age', type: 'string', cell: (o, now) => age(o.metadata.creationTimestamp, now) };

const COLUMNS: Record<string, Column[]> = {
  Deployment: [
    NAME,
    { name: 'Ready', type: 'string', cell: (o) => `${num(rec(o.status).readyReplicas)}/${num(rec(o.spec).replicas)}` },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(rec(o.status).updatedReplicas) },
    { name: 'Available', type: 'integer', cell: (o) => num(rec(o.status).availableReplicas) },
    AGE,
  ],
  ReplicaSet: [
    NAME,
    { name: 'Desired', type: 'integer', cell: (o) => num(rec(o.spec).replicas) },
    { name: 'Current', type: 'integer', cell: (o) => num(rec(o.status).replicas) },
    { name: 'Ready', type: 'integer', cell: (o) => num(rec(o.status).readyReplicas) },
    AGE,
  ],
  StatefulSet: [
    NAME,
    { name: 'Ready', type: 'string', cell: (o) => `${num(rec(o.status).readyReplicas)}/${num(rec(o.spec).replicas)}` },
    AGE,
  ],
  DaemonSet: [
    NAME,
    { name: 'Desired', type: 'integer', cell: (o) => num(rec(o.status).desiredNumberScheduled) },
    { name: 'Current', type: 'integer', cell: (o) => num(rec(o.status).currentNumberScheduled) },
    { name: 'Ready', type: 'integer', cell: (o) => num(rec(o.status).numberReady) },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(rec(o.status).updatedNumberScheduled) },
    { name: 'Available', type: 'integer', cell: (o) => num(rec(o.status).numberAvailable) },
    AGE,
  ],
  Pod: [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const cs = (o as Pod).status?.containerStatuses ?? [];
        return `${cs.filter((c) => c.ready).length}/${(o as Pod).spec.containers.length}`;
      },
    },
    { name: 'Status', type: 'string', cell: podStatus },
    {
      name: 'Restarts',
      type: 'integer',
      cell: (o) => ((o as Pod).status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
    },
    AGE,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => (o as Pod).status?.podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => (o as Pod).spec.nodeName ?? '<none>' },
  ],
  Service: [
    NAME,
    { name: 'Type', type: 'string', cell: (o) => text(rec(o.spec).type, 'ClusterIP') },
    { name: 'Cluster-IP', type: 'string', cell: (o) => text(rec(o.spec).clusterIP, '<none>') },
    {
      name: 'External-IP',
      type: 'string',
      cell: (o) => (rec(o.spec).type === 'LoadBalancer' ? '<pending>' : '<none>'),
    },
    {
      name: 'Port(s)',
      type: 'string',
      cell: (o) =>
        ((rec(o.spec).ports as { port: number; nodePort?: number; protocol?: string }[] | undefined) ?? [])
          .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`)
          .join(',') || '<none>',
    },
    AGE,
  ],
  Namespace: [NAME, { name: 'Status', type: 'string', cell: (o) => text(rec(o.status).phase, 'Active') }, AGE],
  Job: [
    NAME,
    {
      name: 'Status',
      type: 'string',
      cell: (o) => {
        const conds = (rec(o.status).conditions as { type: string; status: string }[] | undefined) ?? [];
        if (conds.some((c) => c.type === 'Complete' && c.status === 'True')) return 'Complete';
        if (conds.some((c) => c.type === 'Failed' && c.status === 'True')) return 'Failed';
        return 'Running';
      },
    },
    {
      name: 'Completions',
      type: 'string',
      cell: (o) => `${num(rec(o.status).succeeded)}/${num(rec(o.spec).completions) || 1}`,
    },
    AGE,
  ],
};

/** A `meta.k8s.io/v1 Table`, which makes `kubectl get` print the usual columns. */
export function renderTable(
  r: ResourceType,
  items: KubeObject[],
  resourceVersion: string,
  now: number,
  cont?: string,
): Record<string, unknown> {
  const columns = COLUMNS[r.kind] ?? [NAME, AGE];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion, ...(cont ? { continue: cont } : {}) },
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.name === 'Name' ? 'name' : '',
      description: c.name,
      priority: c.priority ?? 0,
    })),
    rows: items.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
