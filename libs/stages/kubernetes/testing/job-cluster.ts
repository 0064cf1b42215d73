import { InMemoryCluster } from './in-memory-cluster';

/** A cluster where each created Job gets a pod printing `log`, and finishes (`condition`) at its second look. */
export function jobCluster(
  log: string,
  condition: { type: string; reason?: string; message?: string } = { type: 'Complete' },
) {
  const cluster = new InMemoryCluster();
  const looks = new Map<string, number>();
  cluster.onCreate = (created) => {
    if (created.kind !== 'Job') return;
    const pod = `${created.metadata.name}-pod`;
    cluster.seed('k', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: pod,
        namespace: created.metadata.namespace,
        labels: { 'batch.kubernetes.io/job-name': created.metadata.name! },
      },
    });
    cluster.setLogs(pod, log);
  };
  const beforeRun = (task: string) => {
    if (!task.startsWith('monitor')) return;
    for (const j of cluster.all('k', 'Job')) {
      const n = (looks.get(j.metadata.name!) ?? 0) + 1;
      looks.set(j.metadata.name!, n);
      if (n === 2) cluster.seed('k', { ...j, status: { conditions: [{ status: 'True', ...condition }] } });
    }
  };
  return { cluster, beforeRun };
}
