// Benchmark, not a test: deployManifest of the guestbook (six manifests, three Deployments) to a simulated cluster
// through Jibe (api + engine + client-node adapter, from POST execution to SUCCEEDED), beside the real kubectl doing
// the same (`kubectl apply -f <dir>` then `kubectl rollout status` for every Deployment) on the same simulator in
// the same run, rounds alternating so both see the same machine. Each round gets fresh namespaces.
// Run: npm run bench -- deploy-manifest
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '@jibe/config';
import { startKubeSim } from '@jibe/kube-sim';
import { NestFactory } from '@nestjs/core';
import { ApiModule } from '../../apps/api/api.module';
import { configureApp } from '../../apps/api/http/configure-app';
import { createBenchEnvironment } from '../support/bench-engine';

const ROUNDS = Number(process.env['ROUNDS'] ?? 7);
const FIXTURES = process.env['JIBE_FIXTURES_DIR'] ?? resolve(__dirname, '../fixtures/manifests');
const GUESTBOOK = join(FIXTURES, '01-guestbook');
const CLUSTER = 'bench';
/** Simulated pod start-up (ms): 0 is the simulator's default; a real cluster takes seconds (BENCH_POD_START_MS). */
const POD_START_MS = Number(process.env['BENCH_POD_START_MS'] ?? 0);

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function kubectl(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('/usr/bin/kubectl', args, { env });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('close', (code) =>
      code === 0 ? resolvePromise(output) : reject(new Error(`kubectl ${args.join(' ')}: ${code}\n${output}`)),
    );
  });
}

async function main(): Promise<void> {
  const files = readdirSync(GUESTBOOK)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  const manifests = files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(GUESTBOOK, f), 'utf8')).map((d) => d.toJS() as Record<string, unknown>),
  );
  const deployments = manifests
    .filter((m) => m['kind'] === 'Deployment')
    .map((m) => (m['metadata'] as { name: string }).name);

  const sim = await startKubeSim({
    clusters: [{ name: CLUSTER, timings: { startMs: POD_START_MS } }],
  });
  const dir = mkdtempSync(join(tmpdir(), 'jibe-bench-deploy-'));
  const kubeEnv: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: dir,
    KUBECONFIG: await sim.writeKubeconfig(join(dir, 'kubeconfig')),
    KUBECACHEDIR: join(dir, 'cache'),
  };
  const configFile = join(dir, 'jibe.yaml');
  writeFileSync(configFile, `accounts:\n  - { name: ${CLUSTER}, kind: simulated, cluster: ${CLUSTER} }\n`);
  const bench = await createBenchEnvironment();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    PORT: '0',
    DATABASE_URL: bench.databaseUrl,
    REDIS_URL: bench.redisUrl,
    QUEUE_PREFIX: bench.queuePrefix,
    JIBE_CONFIG_FILE: configFile,
  });
  const app = await NestFactory.create(
    ApiModule.forRoot(config, { simulatedClusters: { url: (name) => sim.cluster(name).url } }),
    { bodyParser: false, logger: false },
  );
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const call = async (method: string, path: string, body?: unknown): Promise<any> => {
    const response = await fetch(new URL(path, base), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  await call('POST', '/api/applications', { name: 'bench' });

  async function jibeRound(round: number): Promise<number> {
    const namespace = `jibe-${round}`;
    await kubectl(kubeEnv, ['create', 'namespace', namespace]);
    const pipeline = await call('POST', '/api/pipelines', {
      application: 'bench',
      name: `guestbook ${round}`,
      limitConcurrent: false,
      stages: [{ refId: '1', type: 'deployManifest', name: 'Deploy', account: CLUSTER, namespace, manifests }],
    });
    const started = Date.now();
    const execution = await call('POST', `/api/pipelines/${pipeline.id}/executions`, { type: 'manual' });
    for (;;) {
      const current = await call('GET', `/api/executions/${execution.id}`);
      if (current.status === 'SUCCEEDED') return Date.now() - started;
      if (current.status !== 'RUNNING' && current.status !== 'NOT_STARTED')
        throw new Error(`round ${round}: ${current.status} ${JSON.stringify(current.stages[0].error)}`);
      if (Date.now() - started > 60_000) throw new Error(`round ${round}: not done after 60 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async function kubectlRound(round: number): Promise<number> {
    const namespace = `kubectl-${round}`;
    await kubectl(kubeEnv, ['create', 'namespace', namespace]);
    const started = Date.now();
    await kubectl(kubeEnv, ['apply', '-n', namespace, '-f', GUESTBOOK]);
    for (const name of deployments)
      await kubectl(kubeEnv, ['rollout', 'status', '-n', namespace, `deployment/${name}`, '--timeout=60s']);
    return Date.now() - started;
  }

  // One warm-up of each (discovery caches, JIT, connection pools), not counted.
  await kubectlRound(0);
  await jibeRound(0);
  const jibe: number[] = [];
  const kube: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    kube.push(await kubectlRound(round));
    jibe.push(await jibeRound(round));
  }
  const j = median(jibe);
  const k = median(kube);
  out(
    `guestbook (${manifests.length} manifests, ${deployments.length} Deployments), ${ROUNDS} rounds, pods start in ${POD_START_MS} ms`,
  );
  out(`  kubectl apply + rollout status: median ${k} ms   [${kube.join(', ')}]`);
  out(`  Jibe deployManifest:            median ${j} ms   [${jibe.join(', ')}]`);
  out(`  ratio Jibe/kubectl: ${(j / k).toFixed(2)}x (goal <= 1.0x)`);

  await app.close();
  await sim.stop();
  await bench.drop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
