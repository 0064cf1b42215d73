import { stageRegistry } from '@jibe/stages';
import { describe, expect, it } from 'vitest';
import { ValidationError } from './domain.errors';
import { validateGraph, validatePipeline } from './validate-pipeline';

const options = { registry: stageRegistry, maxStages: 50 };

function pipeline(stages: unknown[], extra: Record<string, unknown> = {}) {
  return { application: 'shop', name: 'Deploy', stages, ...extra };
}

function problems(input: unknown): { path: string; message: string }[] {
  try {
    validatePipeline(input, options);
  } catch (error) {
    if (error instanceof ValidationError) return [...error.details];
    throw error;
  }
  throw new Error('expected the pipeline to be rejected');
}

describe('validatePipeline', () => {
  it('accepts a fan-out/fan-in graph and keeps unknown top-level keys', () => {
    const result = validatePipeline(
      pipeline(
        [
          { refId: '1', type: 'wait', waitTime: 1 },
          { refId: '2', type: 'wait', waitTime: 2, requisiteStageRefIds: ['1'] },
          { refId: 3, type: 'wait', waitTime: '${ parameters.delay }', requisiteStageRefIds: ['1'] },
          { refId: '4', type: 'manualJudgment', requisiteStageRefIds: ['2', 3], judgmentInputs: [{ value: 'ok' }] },
        ],
        { spelEvaluator: 'v4', appConfig: {} },
      ),
      options,
    );
    expect(result.stages.map((s) => s.refId)).toEqual(['1', '2', 3, '4']);
    expect(result['spelEvaluator']).toBe('v4');
    expect(result.limitConcurrent).toBe(true);
    expect(result.stages[0]!.requisiteStageRefIds).toEqual([]);
  });

  it('names missing top-level fields', () => {
    expect(problems({ stages: [] })).toEqual([
      { path: 'application', message: 'required' },
      { path: 'name', message: 'required' },
    ]);
  });

  it('names wrong field types inside a stage by their full path', () => {
    expect(
      problems(
        pipeline([
          { refId: '1', type: 'wait', waitTime: 'soon' },
          { refId: '2', type: 'manualJudgment', judgmentInputs: [{ value: 3 }], requisiteStageRefIds: ['1'] },
          { refId: '3', type: 'wait', failPipeline: 'yes', waitTime: 1 },
        ]),
      ),
    ).toEqual([
      { path: 'stages[0].waitTime', message: expect.stringMatching(/number|expression/) },
      { path: 'stages[1].judgmentInputs[0].value', message: expect.stringContaining('expected string') },
      { path: 'stages[2].failPipeline', message: expect.stringContaining('expected boolean') },
    ]);
  });

  it('names a missing stage field', () => {
    expect(problems(pipeline([{ refId: '1', type: 'wait' }]))).toEqual([
      { path: 'stages[0].waitTime', message: 'required' },
    ]);
    expect(problems(pipeline([{ type: 'wait', waitTime: 1 }]))).toEqual([
      { path: 'stages[0].refId', message: 'required' },
    ]);
  });

  it('rejects unknown stage types, listing the known ones', () => {
    expect(problems(pipeline([{ refId: '1', type: 'launchRocket' }]))).toEqual([
      {
        path: 'stages[0].type',
        message: `unknown stage type "launchRocket" (known: ${stageRegistry.types().join(', ')})`,
      },
    ]);
  });

  it('rejects duplicate refIds, comparing numbers and strings alike', () => {
    expect(
      problems(
        pipeline([
          { refId: '1', type: 'wait', waitTime: 1 },
          { refId: 1, type: 'wait', waitTime: 1 },
        ]),
      ),
    ).toEqual([{ path: 'stages[1].refId', message: 'duplicate refId "1" (also used by stages[0])' }]);
  });

  it('rejects requisites that name no stage', () => {
    expect(problems(pipeline([{ refId: '1', type: 'wait', waitTime: 1, requisiteStageRefIds: ['9'] }]))).toEqual([
      { path: 'stages[0].requisiteStageRefIds[0]', message: 'no stage has refId "9"' },
    ]);
  });

  it('rejects cycles and shows the loop', () => {
    const details = problems(
      pipeline([
        { refId: 'a', type: 'wait', waitTime: 1 },
        { refId: 'b', type: 'wait', waitTime: 1, requisiteStageRefIds: ['a', 'd'] },
        { refId: 'c', type: 'wait', waitTime: 1, requisiteStageRefIds: ['b'] },
        { refId: 'd', type: 'wait', waitTime: 1, requisiteStageRefIds: ['c'] },
      ]),
    );
    expect(details).toHaveLength(1);
    expect(details[0]).toEqual({ path: 'stages[1].requisiteStageRefIds', message: `cycle: "b" → "c" → "d" → "b"` });
    expect(
      problems(pipeline([{ refId: 's', type: 'wait', waitTime: 1, requisiteStageRefIds: ['s'] }]))[0]!.message,
    ).toBe('cycle: "s" → "s"');
  });

  it('handles a 10,000-stage chain without overflowing the stack', () => {
    const stages = Array.from({ length: 10_000 }, (_, i) => ({
      refId: String(i),
      type: 'wait',
      waitTime: 0,
      requisiteStageRefIds: i === 0 ? ['9999'] : [String(i - 1)],
    }));
    const details = (() => {
      try {
        validatePipeline(pipeline(stages), { registry: stageRegistry, maxStages: 20_000 });
      } catch (error) {
        return (error as ValidationError).details;
      }
      return [];
    })();
    expect(details[0]!.message).toMatch(/^cycle: /);
  });

  it('checks a wide all-to-all fan-in graph in linear time in its edges', () => {
    // Each of the last 200 stages waits for all of the first 200: 40,000 edges, no cycle. Work, not time: every
    // read of a requisite is counted, and linear means a few reads per edge whatever the fan-in. Recomputing a
    // node's parents at every step of the walk reads each list once per step (~200 reads per edge here): checked
    // by rebuilding parentsOf[node] inside findCycle's loop, which fails here with over 8 million reads.
    const width = 200;
    let reads = 0;
    const counted = (refIds: string[]): string[] =>
      new Proxy(refIds, {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
    const stages = Array.from({ length: 2 * width }, (_, i) => ({
      refId: String(i),
      type: 'wait',
      waitTime: 0,
      requisiteStageRefIds: i < width ? [] : Array.from({ length: width }, (_, j) => String(j)),
    }));
    const edges = width * width;
    expect(validateGraph(stages.map((s) => ({ ...s, requisiteStageRefIds: counted(s.requisiteStageRefIds) })))).toEqual(
      [],
    );
    expect(reads).toBeGreaterThanOrEqual(edges);
    expect(reads).toBeLessThanOrEqual(3 * edges);
    expect(() => validatePipeline(pipeline(stages), { registry: stageRegistry, maxStages: 1000 })).not.toThrow();
  });

  it('limits the number of stages', () => {
    const stages = Array.from({ length: 51 }, (_, i) => ({ refId: String(i), type: 'wait', waitTime: 0 }));
    expect(problems(pipeline(stages))).toEqual([{ path: 'stages', message: 'too many stages: 51 (at most 50)' }]);
  });

  it('reports every problem at once, not just the first', () => {
    expect(
      problems(
        pipeline([
          { refId: '1', type: 'nope' },
          { refId: '2', type: 'wait' },
        ]),
      ).map((d) => d.path),
    ).toEqual(['stages[0].type', 'stages[1].waitTime']);
  });
});
