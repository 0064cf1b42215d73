// Benchmark, not a test: what 2,000 Kubernetes accounts cost at start-up (config file parsed and validated, the
// Nest module built), and that the first call to one account builds only that account's client.
// Run: npm run bench -- accounts
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@jibe/config';
import { startKubeSim } from '@jibe/kube-sim';
import { AccountRegistry, KubernetesModule, kubernetesRuntime } from '@jibe/kubernetes';
import { ClusterPort } from '@jibe/stages';
import { NestFactory } from '@nestjs/core';
import { stringify } from 'yaml';

const ACCOUNTS = 2000;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'jibe-accounts-bench-'));
  const kinds = ['kubeconfig', 'gke', 'simulated'] as const;
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => {
    const kind = kinds[i % kinds.length]!;
    const common = { name: `cluster-${i}`, allowedNamespaces: ['team-*', 'default'], concurrency: 8 };
    if (kind === 'kubeconfig') return { ...common, kind, kubeconfig: join(dir, `missing-${i}.yaml`), context: 'c' };
    if (kind === 'gke')
      return {
        ...common,
        kind,
        project: 'acme-prod',
        location: 'europe-west1',
        cluster: `c${i}`,
        endpoint: '10.0.0.1',
      };
    return { ...common, kind, cluster: 'sim-a' };
  });
  const file = join(dir, 'jibe.yaml');
  writeFileSync(file, stringify({ accounts }));

  const sim = await startKubeSim({ clusters: [{ name: 'sim-a' }] });
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const config = loadConfig({ JIBE_CONFIG_FILE: file, LOG_LEVEL: 'silent' });
  const t1 = performance.now();
  const app = await NestFactory.createApplicationContext(
    KubernetesModule.forRoot(config, { simulatedClusters: { url: (name) => sim.cluster(name).url } }),
    { logger: false },
  );
  const t2 = performance.now();
  global.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;

  const registry = app.get(AccountRegistry);
  const port = app.get(ClusterPort);
  const builtAtStart = registry.builtClients;
  const t3 = performance.now();
  const namespaces = await port.list('cluster-2', { kind: 'Namespace' });
  const t4 = performance.now();
  await port.list('cluster-2', { kind: 'Namespace' });
  const t5 = performance.now();

  out(`accounts configured:            ${config.accounts.length}`);
  out(`config file parsed + validated: ${(t1 - t0).toFixed(0)} ms`);
  out(`KubernetesModule built:         ${(t2 - t1).toFixed(0)} ms`);
  out(`start-up total:                 ${(t2 - t0).toFixed(0)} ms`);
  out(`heap for config + accounts:     ${mb(heapAfter - heapBefore)} (rss ${mb(process.memoryUsage().rss)})`);
  out(`clients built at start-up:      ${builtAtStart} (after one call: ${registry.builtClients})`);
  out(
    `first call to one account:      ${(t4 - t3).toFixed(1)} ms (client build + discovery + list, ${namespaces.length} namespaces)`,
  );
  out(`second call:                    ${(t5 - t4).toFixed(1)} ms`);
  if (kubernetesRuntime(config).registry !== registry) throw new Error('binding and module disagree');

  await app.close();
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
