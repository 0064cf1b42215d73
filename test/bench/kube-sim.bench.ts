// Benchmark, not a test: how fast kube-sim applies objects and rolls out a 100-replica Deployment, so Jibe's own
// benchmarks can tell whether the simulator is ever their bottleneck. Run: npx node -r @swc-node/register test/bench/kube-sim.bench.ts
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type V1Deployment } from '@kubernetes/client-node';
import { startKubeSim, type SimCluster } from '@jibe/kube-sim';

const OBJECTS = 2000;
const CONCURRENCY = 16;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

function waitFor(cluster: SimCluster, check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const tick = (): void => {
      if (check()) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
}

function deployment(name: string, replicas: number, image: string): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image }] } },
    },
  };
}

async function main(): Promise<void> {
  const sim = await startKubeSim({ clusters: [{ name: 'bench' }] });
  const cluster = sim.cluster('bench');
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig());
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const apps = kc.makeApiClient(AppsV1Api);

  const configMaps = Array.from({ length: OBJECTS }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `cm-${i}`, namespace: 'default', labels: { bench: 'yes' } },
    data: { index: String(i), payload: 'x'.repeat(256) },
  }));
  let t0 = performance.now();
  await pool(configMaps, CONCURRENCY, (o) =>
    objects.patch(o, undefined, undefined, 'bench', true, PatchStrategy.ServerSideApply),
  );
  let s = (performance.now() - t0) / 1000;
  out(
    `server-side apply (create), client-node, ${CONCURRENCY} in flight: ${OBJECTS} objects in ${s.toFixed(2)} s = ${Math.round(OBJECTS / s)} objects/s`,
  );
  t0 = performance.now();
  await pool(
    configMaps.map((o) => ({ ...o, data: { ...o.data, index: `${o.data.index}-v2` } })),
    CONCURRENCY,
    (o) => objects.patch(o, undefined, undefined, 'bench', true, PatchStrategy.ServerSideApply),
  );
  s = (performance.now() - t0) / 1000;
  out(
    `server-side apply (update), client-node, ${CONCURRENCY} in flight: ${OBJECTS} objects in ${s.toFixed(2)} s = ${Math.round(OBJECTS / s)} objects/s`,
  );

  const status = (): { availableReplicas?: number; updatedReplicas?: number; replicas?: number } =>
    cluster.getObject('apps/v1', 'Deployment', 'default', 'big')?.status ?? {};
  t0 = performance.now();
  await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('big', 100, 'web:1') });
  await waitFor(cluster, () => status().availableReplicas === 100);
  out(
    `100-replica Deployment, create to 100 available (zero kubelet delays): ${(performance.now() - t0).toFixed(0)} ms`,
  );
  t0 = performance.now();
  await apps.patchNamespacedDeployment({
    name: 'big',
    namespace: 'default',
    body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'web:2' }],
  });
  await waitFor(cluster, () => {
    const st = status();
    return st.updatedReplicas === 100 && st.replicas === 100 && st.availableReplicas === 100;
  });
  out(
    `100-replica rolling update (25% surge / 25% unavailable) to complete: ${(performance.now() - t0).toFixed(0)} ms`,
  );
  await cluster.settle();

  // The same server-side apply without client-node in the way, to show how much of the time is the simulator's.
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const raw = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `raw-${i}` },
        data: { index: String(i), payload: 'x'.repeat(256) },
      });
      const url = `${cluster.url}/api/v1/namespaces/default/configmaps/raw-${i}?fieldManager=bench&force=true`;
      const req = request(
        url,
        { method: 'PATCH', agent, headers: { 'Content-Type': 'application/apply-patch+yaml' } },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 201 || res.statusCode === 200 ? resolve() : reject(new Error(String(res.statusCode))),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  t0 = performance.now();
  await pool(
    Array.from({ length: OBJECTS }, (_, i) => i),
    CONCURRENCY,
    raw,
  );
  s = (performance.now() - t0) / 1000;
  out(
    `server-side apply (create), raw node:http, ${CONCURRENCY} in flight: ${OBJECTS} objects in ${s.toFixed(2)} s = ${Math.round(OBJECTS / s)} objects/s`,
  );
  agent.destroy();

  const dir = mkdtempSync(join(tmpdir(), 'kube-sim-bench-'));
  try {
    const kubeconfig = await sim.writeKubeconfig(join(dir, 'kubeconfig'));
    const manifest = Array.from(
      { length: 100 },
      (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubectl-${i}\ndata:\n  i: "${i}"\n`,
    ).join('---\n');
    writeFileSync(join(dir, 'set.yaml'), manifest);
    const env = { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'cache') };
    // Asynchronous on purpose: the simulator serves kubectl from this very process.
    const kubectl = promisify(execFile);
    await kubectl('/usr/bin/kubectl', ['get', 'ns'], { env });
    for (const mode of [[], ['--server-side']]) {
      t0 = performance.now();
      await kubectl('/usr/bin/kubectl', ['apply', ...mode, '-f', join(dir, 'set.yaml')], { env });
      s = (performance.now() - t0) / 1000;
      out(
        `kubectl apply ${mode.join(' ') || '(client-side)'} of 100 objects: ${s.toFixed(2)} s = ${Math.round(100 / s)} objects/s (kubectl-bound)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await sim.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
