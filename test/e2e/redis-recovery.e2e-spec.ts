import { ConfigModule, loadConfig } from '@jibe/config';
import { defineStage, type TaskContext, type TaskResult } from '@jibe/domain';
import { EngineModule } from '@jibe/engine';
import { PersistenceModule } from '@jibe/persistence';
import { stageRegistry } from '@jibe/stages';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RunningApi, startApi } from '../support/api-app';
import { createPipeline, eventually, stage, waitForAll } from '../support/engine-fixtures';
import { httpClient } from '../support/http-client';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis';

/**
 * Redis goes away while executions run, and comes back empty (as a Redis without persistence restarts). The api
 * (role "api") and a worker share a Redis of this test's own; the shared Redis on 6379 is never touched.
 */

const RUNS_DDL = `CREATE TABLE IF NOT EXISTS test_outage_runs (
  id bigserial PRIMARY KEY, stage_id text NOT NULL, execution_id text NOT NULL, ref_id text NOT NULL,
  outcome text NOT NULL)`;

let redis: PrivateRedis;
let api: RunningApi;
let worker: INestApplicationContext;
let pool: Pool;
let gateOpen = false;
let openGate: () => void = () => undefined;
const gate = new Promise<void>((resolve) => (openGate = resolve)).then(() => (gateOpen = true));

async function recordRun(runs: Pool, context: TaskContext, outcome: 'done' | 'waiting'): Promise<void> {
  await runs.query('INSERT INTO test_outage_runs (stage_id, execution_id, ref_id, outcome) VALUES ($1, $2, $3, $4)', [
    context.stage.id,
    context.execution.id,
    context.stage.refId,
    outcome,
  ]);
}

/**
 * Tasks outside the transaction, like ones that call a cluster, each run recorded. `counted` runs once; with `gated`
 * it holds on (under its lease) until the test opens the gate, so it is in flight while Redis goes away. `polled`
 * looks every second whether the gate is open, like a rollout wait: between looks its next one is a delayed job in
 * Redis, which a restarted Redis no longer has.
 */
function outageStages(runs: Pool) {
  const counted = defineStage({
    type: 'counted',
    description: 'test: records each run of its task; a gated one waits for the test',
    config: z.looseObject({ gated: z.boolean().optional() }),
    tasks: [
      {
        name: 'counted',
        run: async (context: TaskContext): Promise<TaskResult> => {
          await recordRun(runs, context, 'done');
          if (context.stage.context['gated'] === true) await gate;
          return { status: 'SUCCEEDED' };
        },
      },
    ],
  });
  const polled = defineStage({
    type: 'polled',
    description: 'test: looks every second whether the gate is open',
    config: z.looseObject({}),
    tasks: [
      {
        name: 'polled',
        run: async (context: TaskContext): Promise<TaskResult> => {
          const open = gateOpen;
          await recordRun(runs, context, open ? 'done' : 'waiting');
          return open ? { status: 'SUCCEEDED' } : { status: 'RUNNING', retryAfterMs: 1000 };
        },
      },
    ],
  });
  return [counted, polled];
}

async function startWorker(): Promise<INestApplicationContext> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    JIBE_ROLE: 'worker',
    DATABASE_URL: api.database.url,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: api.config.redis.queuePrefix,
  });

  @Module({
    imports: [
      ConfigModule.forRoot(config),
      PersistenceModule,
      EngineModule.forRoot({
        consume: true,
        registry: stageRegistry.with(outageStages(pool)),
        settings: { sweepIntervalMs: 500, sweepGraceMs: 1000 },
      }),
    ],
  })
  class OutageWorkerModule {}

  const app = await NestFactory.createApplicationContext(OutageWorkerModule, { logger: false });
  await app.init();
  return app;
}

beforeAll(async () => {
  redis = await startPrivateRedis();
  api = await startApi({ REDIS_URL: redis.url, JIBE_ROLE: 'api' });
  pool = new Pool({ connectionString: api.database.url, max: 4 });
  await pool.query(RUNS_DDL);
  worker = await startWorker();
});

afterAll(async () => {
  openGate();
  await worker?.close();
  await pool?.end();
  await api?.close();
  await redis?.stop();
});

describe('Redis restarting empty while executions run', () => {
  it('the engine recovers by itself: every execution succeeds, no task runs twice, and the api answers throughout', async () => {
    // Fails if the sweeper stops resending (SweeperService.sweep returning 0 at once): the waits and next steps lost
    // with Redis never arrive. Checked by making that change once.
    const http = httpClient(api.url);
    // Saved beside the api, whose validation knows only real stage types: "counted" and "polled" are this test's.
    const pipelineId = await createPipeline(worker, [
      stage('a', 'counted'),
      stage('p', 'polled', ['a']),
      stage('c', 'counted', ['a'], { gated: true }),
      stage('d', 'counted', ['p', 'c']),
    ]);
    const start = async () => {
      const response = await http.post(`/api/pipelines/${pipelineId}/executions`, {});
      expect(response.status).toBe(201);
      return response.body.id as string;
    };
    const before: string[] = [];
    for (let i = 0; i < 20; i++) before.push(await start());

    // Mid-flight: every execution's gated task runs under its lease, and every polled stage has looked once.
    await eventually(
      'every execution has its gated task in flight and its polled stage waiting',
      async () => {
        const { rows } = await pool.query<{ ref_id: string; stages: string }>(
          `SELECT ref_id, count(DISTINCT stage_id) AS stages FROM test_outage_runs
            WHERE execution_id = ANY($1) AND ref_id IN ('c', 'p') GROUP BY ref_id`,
          [before],
        );
        const seen = new Map(rows.map((r) => [r.ref_id, Number(r.stages)]));
        return seen.get('c') === before.length && seen.get('p') === before.length ? true : undefined;
      },
      120_000,
    );
    await redis.kill();
    await eventually(
      'the api reports Redis unreachable',
      async () => ((await http.get('/readyz')).status === 503 ? true : undefined),
      60_000,
    );

    // While Redis is away: the api answers reads and writes, and a new execution waits in Postgres.
    expect((await http.get('/healthz')).status).toBe(200);
    for (const id of before) {
      const read = await http.get(`/api/executions/${id}`);
      expect(read.status).toBe(200);
      expect(read.body.status).toBe('RUNNING');
    }
    const during: string[] = [];
    for (let i = 0; i < 3; i++) during.push(await start());
    const readDuring = await http.get(`/api/executions/${during[0]}`);
    expect(readDuring.body.status).toBe('NOT_STARTED');
    // The gated tasks finish meanwhile: their results reach Postgres, the messages after them cannot reach Redis.
    openGate();
    await eventually(
      'the gated tasks record their results without Redis',
      async () => {
        const { rows } = await pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM execution_stages WHERE execution_id = ANY($1) AND ref_id = 'c'
             AND status = 'SUCCEEDED'`,
          [before],
        );
        return Number(rows[0]!.n) === before.length ? true : undefined;
      },
      60_000,
    );
    expect((await http.get('/readyz')).status).toBe(503);

    // Redis comes back empty: every delayed wait, queued step and BullMQ key is gone.
    await redis.restart();
    await eventually(
      'the api reports ready again',
      async () => ((await http.get('/readyz')).status === 200 ? true : undefined),
      60_000,
    );
    const ids = [...before, ...during];
    const statuses = await waitForAll(pool, ids, 180_000);
    expect([...statuses.values()].filter((s) => s !== 'SUCCEEDED')).toEqual([]);

    const { rows: stages } = await pool.query<{ id: string; execution_id: string; ref_id: string; status: string }>(
      'SELECT id, execution_id, ref_id, status FROM execution_stages WHERE execution_id = ANY($1)',
      [ids],
    );
    expect(stages).toHaveLength(ids.length * 4);
    expect(stages.filter((s) => s.status !== 'SUCCEEDED')).toEqual([]);
    const { rows: runs } = await pool.query<{ stage_id: string; runs: string }>(
      `SELECT stage_id, count(*) AS runs FROM test_outage_runs WHERE outcome = 'done' GROUP BY stage_id`,
    );
    const runsByStage = new Map(runs.map((r) => [r.stage_id, Number(r.runs)]));
    for (const s of stages) {
      // A polled stage looks as often as it must, and finishes once.
      expect(runsByStage.get(s.id), `runs of ${s.ref_id} of ${s.execution_id}`).toBe(1);
    }
    const { rows: polls } = await pool.query<{ waiting: string }>(
      `SELECT count(*) AS waiting FROM test_outage_runs WHERE ref_id = 'p' AND outcome = 'waiting'`,
    );
    expect(Number(polls[0]!.waiting)).toBeGreaterThanOrEqual(before.length);
  }, 480_000);
});
