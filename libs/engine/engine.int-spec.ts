import { ApplicationRepository, PipelineRepository } from '@jibe/persistence';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineHarness, startEngine } from '../../test/support/engine-harness';

let engine: EngineHarness;
let pipelineSeq = 0;

async function pipeline(stages: Record<string, unknown>[], extra: Record<string, unknown> = {}): Promise<string> {
  const id = `p${++pipelineSeq}`;
  const name = `Pipeline ${pipelineSeq}`;
  await engine.app
    .get(PipelineRepository)
    .create(
      id,
      { application: 'shop', name, config: { application: 'shop', name, stages, limitConcurrent: false, ...extra } },
      'test',
    );
  return id;
}

const wait = (refId: string, requisites: string[] = [], extra: Record<string, unknown> = {}) => ({
  refId,
  type: 'wait',
  name: `Wait ${refId}`,
  waitTime: 0,
  requisiteStageRefIds: requisites,
  ...extra,
});

beforeAll(async () => {
  engine = await startEngine();
  await engine.app
    .get(ApplicationRepository)
    .create('shop', { email: null, description: null, attributes: {} }, 'test');
});
afterAll(async () => {
  await engine.close();
});

describe('engine', () => {
  it('runs a fan-out/fan-in graph: the join starts only after both branches', async () => {
    const id = await pipeline([wait('a'), wait('b', ['a']), wait('c', ['a'], { waitTime: 1 }), wait('d', ['b', 'c'])]);
    const started = await engine.executions.start(id, { user: 'ann' });
    const done = await engine.waitFor(started.id);
    expect(done.status).toBe('SUCCEEDED');
    const byRef = Object.fromEntries(done.stages.map((s) => [s.refId, s]));
    expect(Object.values(byRef).map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(byRef['d']!.startTime!).toBeGreaterThanOrEqual(byRef['c']!.endTime!);
    expect(byRef['c']!.endTime! - byRef['c']!.startTime!).toBeGreaterThanOrEqual(1000);
  });
});
