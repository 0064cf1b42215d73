// Benchmark, not a test (issue 4, bench b): 1,000 concurrent executions of a 10-stage fan-out/fan-in pipeline
// (one stage, eight in parallel, one join; inline no-op tasks) run by one worker PROCESS. Prints completions per
// second, stage transition latency (from the moment a stage's requisites had all finished to its start; for the
// first stage, from the execution's start) and the worker's resident memory.
// Goals: p99 transition under 250 ms, RSS under 512 MB. Run: npm run bench -- engine-throughput
import { ExecutionService } from '@jibe/engine';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { createBenchEnvironment, startBenchEngine } from '../support/bench-engine';
import { createPipeline, FINAL_STATUSES, percentile, stage } from '../support/engine-fixtures';

const EXECUTIONS = 1000;
const START_CONCURRENCY = 16;
const ROOT = resolve(__dirname, '../..');

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Resident memory of a process in MB: now (VmRSS) and its peak (VmHWM). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function startWorker(env: { databaseUrl: string; redisUrl: string; queuePrefix: string }): Promise<ChildProcess> {
  const child = spawn(
    resolve(ROOT, 'node_modules/.bin/node'),
    ['-r', '@swc-node/register', resolve(ROOT, 'test/support/chaos-worker.ts')],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        CHAOS_DATABASE_URL: env.databaseUrl,
        CHAOS_REDIS_URL: env.redisUrl,
        CHAOS_QUEUE_PREFIX: env.queuePrefix,
        CHAOS_WORKER_NAME: 'bench',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  const ready = new Promise<void>((resolveReady, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready')) resolveReady();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  });
  await Promise.race([ready, sleep(30_000).then(() => Promise.reject(new Error('worker not ready within 30 s')))]);
  return child;
}

async function main(): Promise<void> {
  const env = await createBenchEnvironment();
  const pool = new Pool({ connectionString: env.databaseUrl, max: 2 });
  let worker: ChildProcess | undefined;
  try {
    const client = await startBenchEngine(env, { consume: false });
    const executions = client.get(ExecutionService);
    const fan = Array.from({ length: 8 }, (_, i) => stage(`b${i + 1}`, 'noop', ['a']));
    const pipelineId = await createPipeline(client, [
      stage('a', 'noop'),
      ...fan,
      stage(
        'z',
        'noop',
        fan.map((s) => String(s['refId'])),
      ),
    ]);
    worker = await startWorker(env);
    const pid = worker.pid!;

    const began = Date.now();
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: START_CONCURRENCY }, async () => {
        while (next < EXECUTIONS) {
          next++;
          ids.push((await executions.start(pipelineId, { user: 'bench' })).id);
        }
      }),
    );
    const startedAll = Date.now();
    let peakSampled = 0;
    for (let i = 0; ; i++) {
      peakSampled = Math.max(peakSampled, memoryOf(pid).rss);
      const { rows } = await pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM executions WHERE NOT status = ANY($1)',
        [FINAL_STATUSES],
      );
      if (Number(rows[0]!.n) === 0) break;
      if (i > 1200) throw new Error(`${rows[0]!.n} executions still unfinished after 5 min`);
      await sleep(250);
    }
    const memory = memoryOf(pid);

    const { rows: executionRows } = await pool.query<{ status: string; n: string; first: string; last: string }>(
      'SELECT status, count(*) AS n, min(start_time) AS first, max(end_time) AS last FROM executions GROUP BY status',
    );
    const { rows: transitions } = await pool.query<{ latency: string }>(
      `SELECT s.start_time - coalesce(
                (SELECT max(p.end_time) FROM execution_stages p
                  WHERE p.execution_id = s.execution_id AND s.requisite_stage_ref_ids ? p.ref_id),
                e.start_time) AS latency
         FROM execution_stages s JOIN executions e ON e.id = s.execution_id`,
    );
    const latencies = transitions.map((t) => Number(t.latency));
    const last = Math.max(...executionRows.map((r) => Number(r.last)));
    const succeeded = Number(executionRows.find((r) => r.status === 'SUCCEEDED')?.n ?? 0);

    out(`${EXECUTIONS} executions of a 10-stage fan-out/fan-in pipeline (1 → 8 → 1), one worker process`);
    out(`statuses: ${executionRows.map((r) => `${r.status} ${r.n}`).join(', ')}`);
    out(
      `all started in ${((startedAll - began) / 1000).toFixed(1)} s; all finished after ${((last - began) / 1000).toFixed(1)} s`,
    );
    out(`completions per second: ${(succeeded / ((last - began) / 1000)).toFixed(1)}`);
    const p99 = percentile(latencies, 99);
    out(
      `stage transition latency (${latencies.length} stages): p50 ${percentile(latencies, 50)} ms  p99 ${p99} ms  ` +
        `max ${Math.max(...latencies)} ms (goal p99 < 250 ms) ${p99 < 250 ? 'MET' : 'MISSED'}`,
    );
    out(
      `worker RSS: peak ${memory.peak.toFixed(0)} MB (sampled max ${peakSampled.toFixed(0)} MB, at the end ` +
        `${memory.rss.toFixed(0)} MB) (goal < 512 MB) ${memory.peak < 512 ? 'MET' : 'MISSED'}`,
    );
    await client.close();
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await Promise.race([once(worker, 'exit'), sleep(10_000)]);
      if (worker.exitCode === null) worker.kill('SIGKILL');
    }
    await pool.end();
    await env.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
