import { stageRegistry } from '@jibe/stages';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineHarness, startEngine } from '../support/engine-harness';
import { createPipeline, percentile, stage, waitForAll } from '../support/engine-fixtures';
import { noopStage } from '../support/engine-test-stages';
import { deleteQueueKeys } from '../support/queue-keys';
import { testQueuePrefix, TEST_REDIS_URL } from '../support/test-database';

let engine: EngineHarness;
let pool: Pool;
const prefix = testQueuePrefix();

beforeAll(async () => {
  // A small worker, so that a burst of starts outpaces it and a backlog builds up.
  engine = await startEngine({
    queuePrefix: prefix,
    registry: stageRegistry.with([noopStage]),
    settings: { concurrency: 4 },
  });
  pool = new Pool({ connectionString: engine.database.url, max: 2 });
});

afterAll(async () => {
  await pool?.end();
  await engine?.close();
  await deleteQueueKeys(prefix, TEST_REDIS_URL);
});

describe('engine scheduling', () => {
  it('starts every branch of a fan-out at once, and the join when the last branch ends', async () => {
    const branches = ['b1', 'b2', 'b3', 'b4', 'b5'];
    const pipelineId = await createPipeline(engine.app, [
      stage('a', 'noop'),
      ...branches.map((b) => stage(b, 'wait', ['a'], { waitTime: 0 })),
      stage('z', 'noop', branches),
    ]);
    const { id } = await engine.executions.start(pipelineId, { user: 'ann' });
    const done = await engine.waitFor(id);
    expect(done.status).toBe('SUCCEEDED');
    const byRef = Object.fromEntries(done.stages.map((s) => [s.refId, s]));
    for (const b of branches) expect(byRef[b]!.startTime, `start of ${b}`).toBe(byRef['a']!.endTime);
    expect(byRef['z']!.startTime).toBeGreaterThanOrEqual(Math.max(...branches.map((b) => byRef[b]!.endTime!)));
  });

  it('keeps running executions moving while a burst of new ones waits to start', async () => {
    const chain = await createPipeline(
      engine.app,
      Array.from({ length: 10 }, (_, i) => stage(`s${i}`, 'noop', i === 0 ? [] : [`s${i - 1}`])),
    );
    const small = await createPipeline(engine.app, [
      stage('a', 'noop'),
      stage('b', 'noop', ['a']),
      stage('c', 'noop', ['b']),
    ]);
    const { id: running } = await engine.executions.start(chain, { user: 'ann' });
    await engine.waitFor(running, (e) => e.stages[0]!.status === 'SUCCEEDED');

    // 400 new executions arrive while the chain has most of its stages to go.
    const burst: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 400) {
          next++;
          burst.push((await engine.executions.start(small, { user: 'bob' })).id);
        }
      }),
    );
    await waitForAll(pool, [running, ...burst], 150_000);
    const { rows } = await pool.query<{ id: string; end_time: string }>(
      'SELECT id, end_time FROM executions WHERE id = ANY($1)',
      [[running, ...burst]],
    );
    const ends = new Map(rows.map((r) => [r.id, Number(r.end_time)]));
    const burstEnds = burst.map((id) => ends.get(id)!);
    // Its next steps go ahead of the queued starts: the chain ends before even a tenth of the burst has.
    expect(ends.get(running)!).toBeLessThan(percentile(burstEnds, 10));
  }, 180_000);
});
