import { ConfigModule, loadConfig } from '@jibe/config';
import { EngineModule, type EngineSettings, ExecutionService } from '@jibe/engine';
import { PersistenceModule } from '@jibe/persistence';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline, effectsByStage, FINAL_STATUSES, stage, waitForAll } from '../support/engine-fixtures';
import { EFFECT_TABLES_DDL } from '../support/engine-test-stages';
import { deleteQueueKeys } from '../support/queue-keys';
import { createTestDatabase, type TestDatabase, testQueuePrefix, TEST_REDIS_URL } from '../support/test-database';

// The chaos test of issue 4 item 5: worker PROCESSES killed with SIGKILL at random while executions run.
const WORKERS = 3;
const WAVES = 4;
const PER_WAVE = 30;
const MAX_KILLS = 12;
/** Short leases and grace so that work a killed worker held is revived within the test's time. */
const SETTINGS: Partial<EngineSettings> = {
  taskLeaseMs: 2500,
  sweepGraceMs: 500,
  sweepIntervalMs: 250,
  concurrency: 16,
  lockDurationMs: 2000,
  stalledIntervalMs: 1000,
};
const ROOT = resolve(__dirname, '../..');

interface Worker {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  output: string;
}

let database: TestDatabase;
let pool: Pool;
let client: INestApplicationContext;
const prefix = testQueuePrefix();
const workers = new Set<Worker>();
let spawned = 0;

function spawnWorker(): Worker {
  const name = `w${++spawned}`;
  const child = spawn(
    resolve(ROOT, 'node_modules/.bin/node'),
    ['-r', '@swc-node/register', resolve(ROOT, 'test/support/chaos-worker.ts')],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        CHAOS_DATABASE_URL: database.url,
        CHAOS_REDIS_URL: TEST_REDIS_URL,
        CHAOS_QUEUE_PREFIX: prefix,
        CHAOS_WORKER_NAME: name,
        CHAOS_ENGINE_SETTINGS: JSON.stringify(SETTINGS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const worker: Worker = { name, child, exited: once(child, 'exit'), output: '' };
  const keep = (chunk: Buffer) => (worker.output = (worker.output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  workers.add(worker);
  return worker;
}

/** Half the time a worker that is running an effect task right now (the kill lands mid-task), else any worker. */
/** The first kills always go for a worker holding an unfinished effect task, so crashes certainly land mid-task. */
const AIMED_KILLS = 4;

async function victim(aimed: boolean): Promise<Worker> {
  const live = [...workers];
  if (aimed || Math.random() < 0.5) {
    const { rows } = await pool.query<{ worker: string }>(
      `SELECT r.worker FROM test_effect_runs r LEFT JOIN test_effects e USING (stage_id)
        WHERE e.stage_id IS NULL ORDER BY r.id DESC LIMIT 1`,
    );
    const busy = live.find((w) => w.name === rows[0]?.worker);
    if (busy) return busy;
  }
  return live[Math.floor(Math.random() * live.length)]!;
}

async function kill(worker: Worker, signal: NodeJS.Signals): Promise<void> {
  workers.delete(worker);
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill(signal);
  await Promise.race([worker.exited, sleep(10_000)]);
}

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new Pool({ connectionString: database.url, max: 4 });
  await pool.query(EFFECT_TABLES_DDL);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
  });
  // The api's side of the engine only: it starts executions; the worker processes run them.
  @Module({ imports: [ConfigModule.forRoot(config), PersistenceModule, EngineModule.forRoot({ consume: false })] })
  class ChaosClientModule {}
  client = await NestFactory.createApplicationContext(ChaosClientModule, { logger: ['error'] });
  await client.init();
});

afterAll(async () => {
  for (const worker of [...workers]) await kill(worker, 'SIGKILL');
  await client?.close();
  await pool?.end();
  await database?.drop();
  await deleteQueueKeys(prefix, TEST_REDIS_URL);
});

describe('chaos', () => {
  it('loses nothing and repeats no effect while worker processes are killed at random', async () => {
    const began = Date.now();
    for (let i = 0; i < WORKERS; i++) spawnWorker();
    const pipelineId = await createPipeline(client, [
      stage('a', 'effect', [], { effectMs: 300 }),
      stage('b', 'effect', ['a'], { effectMs: 400 }),
      stage('c', 'checkPreconditions', ['a'], {
        preconditions: [{ type: 'expression', context: { expression: "${ parameters['outcome'] == 'pass' }" } }],
      }),
      stage('d', 'wait', ['b'], { waitTime: 1 }),
      stage('e', 'effect', ['c'], { effectMs: 50 }),
      stage('f', 'effect', ['d', 'e']),
    ]);
    const executions = client.get(ExecutionService);
    const expected = new Map<string, 'SUCCEEDED' | 'TERMINAL'>();

    // Executions arrive in waves while workers die: SIGKILL one at random, start a replacement at once.
    let kills = 0;
    for (let wave = 0; wave < WAVES; wave++) {
      for (let i = 0; i < PER_WAVE; i++) {
        const outcome = (wave * PER_WAVE + i) % 5 === 0 ? 'fail' : 'pass';
        const started = await executions.start(pipelineId, { user: 'chaos', parameters: { outcome } });
        expected.set(started.id, outcome === 'pass' ? 'SUCCEEDED' : 'TERMINAL');
      }
      for (let k = 0; k < 3 && kills < MAX_KILLS; k++) {
        await sleep(300 + Math.random() * 700);
        await kill(await victim(kills < AIMED_KILLS), 'SIGKILL');
        kills++;
        spawnWorker();
      }
    }
    const ids = [...expected.keys()];
    // Keep killing while work remains, within bounds.
    for (let round = 0; round < 20 && kills < MAX_KILLS; round++) {
      const { rows } = await pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM executions WHERE id = ANY($1) AND NOT status = ANY($2)',
        [ids, FINAL_STATUSES],
      );
      if (Number(rows[0]!.n) === 0) break;
      await sleep(500 + Math.random() * 1000);
      await kill(await victim(kills < AIMED_KILLS), 'SIGKILL');
      kills++;
      spawnWorker();
    }

    const statuses = await waitForAll(pool, ids, 40_000).catch((error: Error) => {
      const logs = [...workers].map((w) => `${w.name}: ${w.output.slice(-1500)}`).join('\n');
      throw new Error(`${error.message}\nworker output:\n${logs}`);
    });
    const wrong = ids.filter((id) => statuses.get(id) !== expected.get(id));
    expect(
      wrong.map((id) => `${id}: ${statuses.get(id)}, expected ${expected.get(id)}`),
      'executions with the wrong status',
    ).toEqual([]);

    const { rows: stages } = await pool.query<{
      id: string;
      execution_id: string;
      ref_id: string;
      status: string;
      error: { code?: string } | null;
    }>('SELECT id, execution_id, ref_id, status, error FROM execution_stages WHERE execution_id = ANY($1)', [ids]);
    const { effects, runs } = await effectsByStage(pool);
    const problems: string[] = [];
    for (const s of stages) {
      const where = `stage ${s.ref_id} of ${s.execution_id} (${s.status})`;
      const isEffect = ['a', 'b', 'e', 'f'].includes(s.ref_id);
      if (expected.get(s.execution_id) === 'SUCCEEDED') {
        if (s.status !== 'SUCCEEDED') problems.push(`${where}: should have SUCCEEDED`);
        if (isEffect && !effects.has(s.id)) problems.push(`${where}: SUCCEEDED without its effect`);
        continue;
      }
      const expectedStatus: Record<string, string[]> = {
        a: ['SUCCEEDED'],
        // b and c start together; when c fails first, b may never have started.
        b: ['NOT_STARTED', 'SUCCEEDED', 'CANCELED'],
        c: ['TERMINAL'],
        d: ['NOT_STARTED', 'CANCELED', 'SUCCEEDED'],
        e: ['NOT_STARTED'],
        f: ['NOT_STARTED'],
      };
      if (!expectedStatus[s.ref_id]!.includes(s.status)) problems.push(`${where}: unexpected in a TERMINAL execution`);
      if (s.ref_id === 'c' && s.error?.code !== 'PRECONDITION_FAILED')
        problems.push(`${where}: ${JSON.stringify(s.error)}`);
      if (s.status === 'SUCCEEDED' && isEffect && !effects.has(s.id)) problems.push(`${where}: without its effect`);
      if (s.status === 'NOT_STARTED' && (effects.has(s.id) || runs.has(s.id))) problems.push(`${where}: ran`);
    }
    expect(problems, 'stages that did not take effect exactly once').toEqual([]);
    expect(kills).toBeGreaterThanOrEqual(MAX_KILLS / 2);

    // Kills landed mid-task, and those tasks ran again on another worker once their lease ran out.
    const rerun = [...runs.values()].filter((n) => n > 1).length;
    expect(rerun).toBeGreaterThan(0);
    process.stdout.write(
      `chaos: ${ids.length} executions, ${kills} SIGKILLs, ${spawned} worker processes, ` +
        `${rerun} task(s) re-run after a kill, ${effects.size} effects, ${((Date.now() - began) / 1000).toFixed(1)} s\n`,
    );
    for (const worker of [...workers]) await kill(worker, 'SIGTERM');
  }, 90_000);
});
