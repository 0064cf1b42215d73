import { ConfigModule, loadConfig, loggerOptions } from '@jibe/config';
import { defineStage, type TaskContext, type TaskResult } from '@jibe/domain';
import { ApplicationRepository, PersistenceModule, PipelineRepository } from '@jibe/persistence';
import { stageRegistry } from '@jibe/stages';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger, LoggerModule } from 'nestjs-pino';
import { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventually } from '../../test/support/engine-fixtures';
import { deleteQueueKeys } from '../../test/support/queue-keys';
import {
  createTestDatabase,
  type TestDatabase,
  testQueuePrefix,
  TEST_REDIS_URL,
} from '../../test/support/test-database';
import { EngineModule } from './engine.module';
import { type EngineSettings } from './engine.tokens';
import { EngineQueue } from './engine.queue';
import { jobIdOf } from './engine-message';
import { ExecutionService } from './execution.service';
import { type LeaseLostReason, MetricsService } from './metrics.service';

/**
 * A task that runs outside the transaction and holds until the test lets it go: each run of a stage is numbered,
 * and its result names its run, so the stage's outputs say whose result was applied.
 */
interface HeldRun {
  readonly n: number;
  readonly lease: number;
  /** Lets the run return; with `takeOver`, another worker takes the task over just before it does. */
  release(options?: { takeOver: boolean }): void;
}
const runsByStage = new Map<string, HeldRun[]>();
const heldStage = defineStage({
  type: 'held',
  description: 'test: a task outside the transaction that holds until released',
  config: z.looseObject({}),
  tasks: [
    {
      name: 'hold',
      run: async (context: TaskContext): Promise<TaskResult> => {
        const runs = runsByStage.get(context.stage.id) ?? [];
        runsByStage.set(context.stage.id, runs);
        let release!: (options?: { takeOver: boolean }) => void;
        const released = new Promise<{ takeOver: boolean } | undefined>((resolve) => (release = resolve));
        // The lease this run holds is the row's due_seq, read right after the engine took it.
        const n = runs.length + 1;
        runs.push({ n, lease: await leaseOf(context.stage.id), release });
        // No timer runs between this write's answer and the handler's commit (only promise continuations do), so
        // no renewal can notice the takeover first: the commit is what must.
        if ((await released)?.takeOver) await takeOver(context.stage.id);
        return { status: 'SUCCEEDED', outputs: { run: n } };
      },
    },
  ],
});

let database: TestDatabase;
let pool: Pool;
const prefixes: string[] = [];
let engine: INestApplicationContext | undefined;
// nestjs-pino builds one root logger per process, with the destination of the first application: every worker of
// this file logs here, and each test reads the lines of its own execution.
const logs: Record<string, unknown>[] = [];
const destination = { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) };

async function leaseOf(stageId: string): Promise<number> {
  const { rows } = await pool.query<{ due_seq: number }>('SELECT due_seq FROM execution_stages WHERE id = $1', [
    stageId,
  ]);
  return rows[0]!.due_seq;
}

/**
 * What another worker does when it takes the task over: a newer lease on the row. Its end is far away, so nothing
 * else moves until the test lets the lease run out with {@link expireLease}.
 */
async function takeOver(stageId: string): Promise<void> {
  await pool.query(
    `UPDATE execution_stages SET due_seq = due_seq + 1, due_at = $2 WHERE id = $1 AND due_message = 'RunTask'`,
    [stageId, Date.now() + 3_600_000],
  );
}

/** The current holder's lease runs out (as if it died): the sweeper sends the task again. */
async function expireLease(stageId: string): Promise<void> {
  await pool.query('UPDATE execution_stages SET due_at = $2 WHERE id = $1', [stageId, Date.now() - 1000]);
}

/** A worker with the `held` stage, logging JSON through nestjs-pino (into `logs`) as the real worker does. */
async function startWorker(settings: Partial<EngineSettings>): Promise<INestApplicationContext> {
  const prefix = testQueuePrefix();
  prefixes.push(prefix);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
  });

  @Module({
    imports: [
      ConfigModule.forRoot(config),
      LoggerModule.forRoot({ pinoHttp: [loggerOptions(config), destination] }),
      PersistenceModule,
      EngineModule.forRoot({
        consume: true,
        registry: stageRegistry.with([heldStage]),
        settings: { sweepGraceMs: 200, sweepIntervalMs: 200, ...settings },
      }),
    ],
  })
  class LeaseWorkerModule {}

  const app = await NestFactory.createApplicationContext(LeaseWorkerModule, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  await app.init();
  engine = app;
  return app;
}

async function startHeldExecution(app: INestApplicationContext): Promise<{ executionId: string; stageId: string }> {
  await app
    .get(ApplicationRepository)
    .create('shop', { email: null, description: null, attributes: {} }, 'test')
    .catch(() => undefined);
  const pipelineId = `held-${prefixes.length}`;
  await app.get(PipelineRepository).create(
    pipelineId,
    {
      application: 'shop',
      name: pipelineId,
      config: { application: 'shop', name: pipelineId, stages: [{ refId: 'h', type: 'held', name: 'held' }] },
    },
    'test',
  );
  const started = await app.get(ExecutionService).start(pipelineId, { user: 'ann' });
  return { executionId: started.id, stageId: started.stages[0]!.id };
}

function runOf(stageId: string, n: number): Promise<HeldRun> {
  return eventually(
    `run ${n} of the held task has started`,
    () => Promise.resolve(runsByStage.get(stageId)?.[n - 1]),
    30_000,
  );
}

async function leaseLost(app: INestApplicationContext, reason: LeaseLostReason): Promise<number> {
  const { values } = await app.get(MetricsService).taskLeaseLost.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** Waits until the queue message that started the run holding `lease` has been handled to the end (commit included). */
async function handled(app: INestApplicationContext, executionId: string, stageId: string, lease: number) {
  const jobId = jobIdOf({ kind: 'RunTask', executionId, stageId, seq: lease - 1 });
  const queue = app.get(EngineQueue).queue;
  await eventually(
    `RunTask ${jobId} is handled`,
    async () => ((await queue.getJobState(jobId)) === 'unknown' ? true : undefined),
    30_000,
  );
}

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new Pool({ connectionString: database.url, max: 2 });
});

afterEach(async () => {
  for (const runs of runsByStage.values()) for (const run of runs) run.release();
  await engine?.close();
  engine = undefined;
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
  for (const prefix of prefixes) await deleteQueueKeys(prefix, TEST_REDIS_URL);
});

async function waitForEnd(app: INestApplicationContext, executionId: string) {
  return eventually(
    'the execution ends',
    async () => {
      const execution = await app.get(ExecutionService).get(executionId);
      return execution.status === 'RUNNING' ? undefined : execution;
    },
    30_000,
  );
}

const lostLeaseLines = (executionId: string) =>
  logs.filter((line) => line['executionId'] === executionId && String(line['msg']).startsWith('task lease lost'));

describe('a task that loses its lease', () => {
  // Fails if run-task.handler.ts ignores renewLease's answer (no log line, the metric stays 0), or if its commit
  // no longer checks that the lease is still its own (run 1's result is applied): checked by replacing
  // `if (held || finished || lostNoticed) return;` with `return;`, and by dropping `!unit.isDue(...)` from the commit.
  it('is logged with its ids and counted when another worker takes it over, and its result is not applied', async () => {
    const app = await startWorker({ taskLeaseMs: 3000 });
    const { executionId, stageId } = await startHeldExecution(app);
    const first = await runOf(stageId, 1);

    await takeOver(stageId);
    await eventually(
      'the lost lease is counted',
      async () => ((await leaseLost(app, 'taken_over')) > 0 ? true : undefined),
      30_000,
    );
    expect(await leaseLost(app, 'taken_over')).toBe(1);
    expect(await leaseLost(app, 'stage_changed')).toBe(0);
    expect(lostLeaseLines(executionId)).toEqual([
      expect.objectContaining({
        level: 40,
        context: 'RunTaskHandler',
        executionId,
        stageId,
        task: 'hold',
        lease: first.lease,
        reason: 'taken_over',
        noticedBy: 'renewal',
        msg: "task lease lost: another worker took the task over; this run's result is discarded",
      }),
    ]);

    // Run 1 finishes after losing its lease: nothing of its result reaches the stage.
    first.release();
    await handled(app, executionId, stageId, first.lease);
    const afterFirst = await app.get(ExecutionService).get(executionId);
    expect(afterFirst.stages[0]).toMatchObject({ status: 'RUNNING', outputs: {} });
    expect(afterFirst.stages[0]!.tasks[0]).toMatchObject({ status: 'RUNNING', attempts: 0 });

    // The new holder dies too; the sweeper hands the task to run 2, whose result counts.
    await expireLease(stageId);
    (await runOf(stageId, 2)).release();
    const done = await waitForEnd(app, executionId);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stages[0]!.outputs).toEqual({ run: 2 });
    expect(done.stages[0]!.tasks[0]!.attempts).toBe(1);
    expect(await leaseLost(app, 'taken_over')).toBe(1);
  });

  // Fails if the commit does not report a lease it finds gone (the metric stays 0, no log line): checked by
  // removing the `reportLost(lostReason(current, leased.lease), 'commit')` call. Dropping `!unit.isDue(...)` from
  // the commit fails it too (run 1's result reaches the stage).
  it('is reported by the commit when it was taken over after the last renewal', async () => {
    // A lease long enough that no renewal comes between the takeover and the commit.
    const app = await startWorker({ taskLeaseMs: 60_000 });
    const { executionId, stageId } = await startHeldExecution(app);
    const first = await runOf(stageId, 1);
    first.release({ takeOver: true });
    await handled(app, executionId, stageId, first.lease);

    expect(await leaseLost(app, 'taken_over')).toBe(1);
    expect(lostLeaseLines(executionId)).toEqual([
      expect.objectContaining({ executionId, stageId, lease: first.lease, reason: 'taken_over', noticedBy: 'commit' }),
    ]);
    expect((await app.get(ExecutionService).get(executionId)).stages[0]!.outputs).toEqual({});

    await expireLease(stageId);
    (await runOf(stageId, 2)).release();
    const done = await waitForEnd(app, executionId);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stages[0]!.outputs).toEqual({ run: 2 });
  });

  // Fails if a failed renewal is swallowed (no error counted or logged), or counted as a lost lease: checked by
  // emptying the renewal's `.catch` handler (as it was before), and by calling reportLost from it. Also fails when
  // the logged `err` is not the error itself ("[object Object]"): checked by taking the `raw` unwrapping out of
  // serializeError in libs/config/logger-options.ts.
  it('counts and logs failed renewals, and keeps the lease once a renewal succeeds again', async () => {
    // The sweeper never takes the task over here, however long the renewals fail.
    const app = await startWorker({ taskLeaseMs: 3000, sweepGraceMs: 3_600_000 });
    const { executionId, stageId } = await startHeldExecution(app);
    const first = await runOf(stageId, 1);

    // Renewals of run 1's lease fail in Postgres, as when the database refuses that worker's writes.
    const name = `fail_renewal_${first.lease}`;
    await pool.query(`
      CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'renewal refused by the test'; END $$;
      CREATE TRIGGER ${name} BEFORE UPDATE ON execution_stages FOR EACH ROW
        WHEN (OLD.id = '${stageId}' AND NEW.due_seq = ${first.lease} AND NEW.due_message = 'RunTask')
        EXECUTE FUNCTION ${name}()`);
    const metrics = app.get(MetricsService);
    const renewalErrors = async () => (await metrics.taskLeaseRenewalErrors.get()).values[0]?.value ?? 0;
    await eventually(
      'a renewal error is counted',
      async () => ((await renewalErrors()) > 0 ? true : undefined),
      30_000,
    );
    expect(
      logs.find(
        (line) => line['executionId'] === executionId && String(line['msg']).startsWith('task lease renewal failed'),
      ),
    ).toMatchObject({
      level: 40,
      executionId,
      stageId,
      lease: first.lease,
      err: { message: 'renewal refused by the test' },
    });

    // Postgres takes renewals again: the lease moves forward and stays run 1's.
    const { rows } = await pool.query<{ due_at: string }>('SELECT due_at FROM execution_stages WHERE id = $1', [
      stageId,
    ]);
    await pool.query(`DROP TRIGGER ${name} ON execution_stages; DROP FUNCTION ${name}()`);
    await eventually(
      'a renewal succeeds',
      async () => {
        const now = await pool.query<{ due_at: string }>('SELECT due_at FROM execution_stages WHERE id = $1', [
          stageId,
        ]);
        return Number(now.rows[0]!.due_at) > Number(rows[0]!.due_at) ? true : undefined;
      },
      30_000,
    );
    first.release();
    const done = await waitForEnd(app, executionId);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stages[0]!.outputs).toEqual({ run: 1 });
    expect(runsByStage.get(stageId)).toHaveLength(1);
    expect(lostLeaseLines(executionId)).toEqual([]);
    expect(await leaseLost(app, 'taken_over')).toBe(0);
    expect(await leaseLost(app, 'stage_changed')).toBe(0);
  });
});
