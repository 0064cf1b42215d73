import { buildExecution, EngineQueue, type EngineSettings, jobIdOf } from '@jibe/engine';
import { ExecutionRepository, PipelineRepository } from '@jibe/persistence';
import { stageRegistry } from '@jibe/stages';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EngineHarness, startEngine } from '../support/engine-harness';
import { createPipeline, effectsByStage, eventually, stage, waitForAll } from '../support/engine-fixtures';
import { EFFECT_TABLES_DDL, effectStage, noopStage } from '../support/engine-test-stages';
import { deleteQueueKeys } from '../support/queue-keys';
import { createTestDatabase, type TestDatabase, testQueuePrefix, TEST_REDIS_URL } from '../support/test-database';

let database: TestDatabase;
let pool: Pool;
const prefixes: string[] = [];
const engines: EngineHarness[] = [];

/** An engine on this file's database; `worker` labels the effects it records. */
async function engine(
  worker: string,
  queuePrefix: string,
  settings: Partial<EngineSettings> = {},
): Promise<EngineHarness> {
  if (!prefixes.includes(queuePrefix)) prefixes.push(queuePrefix);
  const harness = await startEngine({
    database,
    queuePrefix,
    registry: stageRegistry.with([effectStage(pool, worker), noopStage]),
    settings,
  });
  engines.push(harness);
  return harness;
}

async function startMany(harness: EngineHarness, pipelineId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await harness.executions.start(pipelineId, { user: 'ann' })).id);
  return ids;
}

async function stageRows(ids: readonly string[]) {
  const { rows } = await pool.query<{
    id: string;
    execution_id: string;
    ref_id: string;
    type: string;
    status: string;
    tasks: { attempts: number }[];
  }>('SELECT id, execution_id, ref_id, type, status, tasks FROM execution_stages WHERE execution_id = ANY($1)', [ids]);
  return rows;
}

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new Pool({ connectionString: database.url, max: 4 });
  await pool.query(EFFECT_TABLES_DDL);
});

// Each test's engines go when it ends: left running, their connection pools (up to 20 each) added up past Postgres's
// 100 connections beside another test run, and their sweepers would act on the next test's executions.
afterEach(async () => {
  for (const harness of engines.splice(0)) await harness.close();
});

afterAll(async () => {
  for (const harness of engines.splice(0)) await harness.close();
  await pool?.end();
  await database?.drop();
  for (const prefix of prefixes) await deleteQueueKeys(prefix, TEST_REDIS_URL);
});

describe('engine crash safety', () => {
  it('finishes every execution after all of its queue keys are deleted from Redis mid-run (the sweeper resends)', async () => {
    const prefix = testQueuePrefix();
    const harness = await engine('A', prefix);
    const pipelineId = await createPipeline(harness.app, [
      stage('a', 'wait', [], { waitTime: 0 }),
      stage('b', 'wait', ['a'], { waitTime: 2 }),
      stage('c', 'manualJudgment', ['a']),
      stage('e', 'noop', ['a']),
      stage('d', 'wait', ['b', 'c', 'e'], { waitTime: 0 }),
    ]);
    const ids = await startMany(harness, pipelineId, 40);
    const judgments = await eventually(
      'every manual judgment waits',
      async () => {
        const rows = (await stageRows(ids)).filter((s) => s.ref_id === 'c' && s.status === 'RUNNING');
        return rows.length === ids.length ? rows : undefined;
      },
      60_000,
    );
    for (const judgment of judgments.slice(0, 20)) {
      await harness.executions.judge(judgment.execution_id, judgment.id, { judgmentStatus: 'continue' }, 'ann');
    }
    // The 2 s waits and the judgments' re-checks sit in Redis as delayed jobs: deleting the keys loses them.
    expect(await harness.app.get(EngineQueue).queue.getDelayedCount()).toBeGreaterThan(0);
    expect(await deleteQueueKeys(prefix, TEST_REDIS_URL)).toBeGreaterThan(0);
    for (const judgment of judgments.slice(20)) {
      await harness.executions.judge(judgment.execution_id, judgment.id, { judgmentStatus: 'continue' }, 'ann');
    }

    const statuses = await waitForAll(pool, ids, 90_000);
    expect([...statuses.values()].filter((s) => s !== 'SUCCEEDED')).toEqual([]);
    const notSucceeded = (await stageRows(ids)).filter((s) => s.status !== 'SUCCEEDED');
    expect(notSucceeded).toEqual([]);
  }, 180_000);

  it('ignores redelivered and duplicated messages, during the run and after it', async () => {
    const prefix = testQueuePrefix();
    const harness = await engine('A', prefix);
    const queue = harness.app.get(EngineQueue).queue;
    const pipelineId = await createPipeline(harness.app, [
      stage('a', 'effect', [], { effectMs: 100 }),
      stage('b', 'wait', ['a'], { waitTime: 0 }),
      stage('c', 'effect', ['a'], { effectMs: 100 }),
      stage('d', 'effect', ['b', 'c']),
    ]);
    const ids = await startMany(harness, pipelineId, 10);

    // While it runs: copy every message found in the queue under new job ids, three times each.
    let copied = 0;
    for (let round = 0; round < 40; round++) {
      const statuses = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM executions WHERE id = ANY($1) AND status IN ('NOT_STARTED', 'RUNNING')`,
        [ids],
      );
      if (Number(statuses.rows[0]!.n) === 0) break;
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
      const copies = jobs
        .filter((job) => !job.id?.startsWith('copy-'))
        .flatMap((job) =>
          [1, 2, 3].map((n) => ({
            name: job.name,
            data: job.data as unknown,
            opts: { jobId: `copy-${round}-${n}-${job.id}` },
          })),
        );
      if (copies.length > 0) await queue.addBulk(copies);
      copied += copies.length;
      await sleep(30);
    }
    expect(copied).toBeGreaterThan(0);
    await waitForAll(pool, ids, 60_000);
    const before = await Promise.all(ids.map((id) => harness.executions.get(id)));
    const effectsBefore = await effectsByStage(pool);

    // After it: every message any row could ever have been sent, with its deterministic id and with new ids.
    const rows = await pool.query<{ execution_id: string; stage_id: string | null; due_seq: number }>(
      `SELECT id AS execution_id, NULL AS stage_id, due_seq FROM executions WHERE id = ANY($1)
       UNION ALL SELECT execution_id, id, due_seq FROM execution_stages WHERE execution_id = ANY($1)`,
      [ids],
    );
    const replays = rows.rows.flatMap((row) =>
      (row.stage_id ? (['StartStage', 'RunTask', 'WakeStage'] as const) : (['StartExecution'] as const)).flatMap(
        (kind) =>
          Array.from({ length: row.due_seq + 2 }, (_, seq) => ({
            kind,
            executionId: row.execution_id,
            ...(row.stage_id ? { stageId: row.stage_id } : {}),
            seq,
          })),
      ),
    );
    await queue.addBulk(
      replays.flatMap((message) => [
        { name: message.kind, data: message, opts: { jobId: jobIdOf(message) } },
        { name: message.kind, data: message, opts: { jobId: `replay-${jobIdOf(message)}` } },
      ]),
    );
    await eventually(
      `the ${replays.length * 2} replayed messages are consumed`,
      async () => {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(counts).every((n) => n === 0) ? true : undefined;
      },
      60_000,
      async () => JSON.stringify(await queue.getJobCounts()),
    );

    const after = await Promise.all(ids.map((id) => harness.executions.get(id)));
    expect(after).toEqual(before);
    expect(after.map((e) => e.status)).toEqual(ids.map(() => 'SUCCEEDED'));
    const effectsAfter = await effectsByStage(pool);
    const effectStages = (await stageRows(ids)).filter((s) => s.type === 'effect');
    expect(effectStages).toHaveLength(ids.length * 3);
    for (const s of effectStages) {
      expect(effectsAfter.effects.get(s.id), `effect of stage ${s.ref_id} of ${s.execution_id}`).toBe('A');
      expect(effectsAfter.runs.get(s.id), `runs of stage ${s.ref_id} of ${s.execution_id}`).toBe(1);
    }
    expect(effectsAfter).toEqual(effectsBefore);
  }, 180_000);

  it('revives a step whose queue message failed for good (its job id must not stay taken)', async () => {
    const harness = await engine('A', testQueuePrefix());
    const queue = harness.app.get(EngineQueue);
    const pipelineId = await createPipeline(harness.app, [stage('a', 'noop'), stage('b', 'effect', ['a'])]);
    const { execution, stages } = buildExecution(
      await harness.app.get(PipelineRepository).get(pipelineId),
      { user: 'ann' },
      Date.now(),
    );
    const message = { kind: 'StartExecution' as const, executionId: execution.id, seq: execution.dueSeq };
    // The message under this step's job id fails for good (here: a payload no handler accepts; in production: a
    // database outage through all its attempts) while the row still waits for the step.
    await queue.queue.add(message.kind, { ...message, seq: 'garbled' }, { jobId: jobIdOf(message), attempts: 1 });
    await eventually(
      'the garbled message has failed',
      async () => (['failed', 'unknown'].includes(await queue.queue.getJobState(jobIdOf(message))) ? true : undefined),
      30_000,
    );
    const executions = harness.app.get(ExecutionRepository);
    await executions.transaction((manager) => executions.insert(manager, execution, stages));
    await queue.send([{ ...message, delayMs: 0 }]);

    // Were the job id still taken, neither this send nor any sweep could reach the row: it would never finish.
    const done = await harness.waitFor(execution.id, undefined, 60_000);
    expect(done.status).toBe('SUCCEEDED');
  }, 120_000);

  it('shares one queue between several engine instances without running any task twice', async () => {
    const prefix = testQueuePrefix();
    // Eight messages at a time each: 24 handlers still race for the same rows, on far fewer connections than 3 × 32.
    const settings = { concurrency: 8 };
    const first = await engine('A', prefix, settings);
    await engine('B', prefix, settings);
    await engine('C', prefix, settings);
    const pipelineId = await createPipeline(first.app, [
      stage('a', 'effect'),
      stage('b', 'effect', ['a'], { effectMs: 20 }),
      stage('c', 'noop', ['a']),
      stage('e', 'wait', ['a'], { waitTime: 0 }),
      stage('d', 'effect', ['b', 'c', 'e']),
    ]);
    const ids = await startMany(first, pipelineId, 60);
    const statuses = await waitForAll(pool, ids, 90_000);
    expect([...statuses.values()].filter((s) => s !== 'SUCCEEDED')).toEqual([]);

    const stages = await stageRows(ids);
    const { effects, runs } = await effectsByStage(pool);
    for (const s of stages) {
      expect(s.status, `stage ${s.ref_id} of ${s.execution_id}`).toBe('SUCCEEDED');
      expect(
        s.tasks.map((t) => t.attempts),
        `task attempts of ${s.ref_id} of ${s.execution_id}`,
      ).toEqual([1]);
      if (s.type === 'effect') expect(runs.get(s.id), `runs of ${s.ref_id} of ${s.execution_id}`).toBe(1);
    }
    const workers = new Set(stages.filter((s) => s.type === 'effect').map((s) => effects.get(s.id)));
    expect([...workers].sort()).toEqual(['A', 'B', 'C']);
  }, 180_000);

  it('finishes in-flight tasks when an instance shuts down, and another instance completes the rest', async () => {
    const prefix = testQueuePrefix();
    // A short lease: a task the closing instance abandoned would run again after it, and the test would see it.
    const settings = { taskLeaseMs: 4000 };
    const closing = await engine('closing', prefix, settings);
    const pipelineId = await createPipeline(closing.app, [
      stage('a', 'effect', [], { effectMs: 600 }),
      stage('b', 'effect', ['a'], { effectMs: 50 }),
    ]);
    const ids = await startMany(closing, pipelineId, 12);
    await engine('staying', prefix, settings);
    const inFlight = await eventually(
      'tasks in flight on the closing instance',
      async () => {
        const { rows } = await pool.query<{ stage_id: string }>(
          `SELECT r.stage_id FROM test_effect_runs r LEFT JOIN test_effects e USING (stage_id)
            WHERE r.worker = 'closing' AND e.stage_id IS NULL`,
        );
        return rows.length >= 3 ? rows.map((r) => r.stage_id) : undefined;
      },
      60_000,
    );
    // How long closing takes is not the point (a machine under load may take a while); what it leaves behind is.
    await engines.splice(engines.indexOf(closing), 1)[0]!.close();

    // What was in flight took effect and was recorded by the closing instance itself, before it went: a shutdown that
    // cut tasks short would leave these RUNNING, for the other instance to run again once their lease ran out.
    const recorded = await stageRows(ids);
    for (const stageId of inFlight) {
      const row = recorded.find((s) => s.id === stageId)!;
      expect(row.status, `in-flight stage ${row.ref_id} of ${row.execution_id}`).toBe('SUCCEEDED');
    }
    const statuses = await waitForAll(pool, ids, 90_000);
    expect([...statuses.values()].filter((s) => s !== 'SUCCEEDED')).toEqual([]);
    const { effects, runs } = await effectsByStage(pool);
    for (const s of await stageRows(ids)) {
      expect(effects.has(s.id), `effect of ${s.ref_id} of ${s.execution_id}`).toBe(true);
      expect(runs.get(s.id), `runs of ${s.ref_id} of ${s.execution_id}`).toBe(1);
    }
  }, 180_000);
});
