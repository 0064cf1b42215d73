import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineStage } from './stage-definition';
import { type TaskContext } from './task';

/** A context as the engine hands it: the stage's context untyped, as stored. */
function contextWith(stageContext: Record<string, unknown>): TaskContext {
  return {
    execution: { id: 'e', application: 'shop', pipelineId: null, name: 'p', trigger: {} },
    stage: {
      id: 's',
      refId: '1',
      name: 's',
      type: 'probe',
      status: 'RUNNING',
      context: stageContext,
      outputs: {},
      startTime: 0,
    },
    stages: [],
    now: 0,
    port: () => {
      throw new Error('no ports here');
    },
  };
}

describe('defineStage', () => {
  const seen: unknown[] = [];
  const stage = defineStage({
    type: 'probe',
    description: 'test only',
    // A strict object: keys it does not name reach the task only because the raw context is kept under the parse.
    config: z.object({ replicas: z.number().int(), mode: z.enum(['a', 'b']).default('a') }),
    state: z.object({ 'probe.chosen': z.object({ name: z.string() }) }),
    tasks: [
      {
        name: 'probe',
        run: (context) => {
          seen.push({
            replicas: context.stage.context.replicas,
            mode: context.stage.context.mode,
            chosen: context.stage.context['probe.chosen']?.name,
            engineKey: Object.getOwnPropertyDescriptor(context.stage.context, 'jibe.transientFailures')?.value,
          });
          return Promise.resolve({ status: 'SUCCEEDED' });
        },
      },
    ],
  });
  const task = stage.tasks[0]!;

  // Fails if readStageContext stops parsing the config before the task runs: checked by skipping the parse.
  it('fails with INVALID_CONFIG, naming the path, when an expression made a config value wrong; the task never runs', async () => {
    seen.length = 0;
    const result = await task.run(contextWith({ replicas: 'three' }));
    expect(result).toMatchObject({
      status: 'TERMINAL',
      error: { code: 'INVALID_CONFIG', details: [{ path: 'replicas' }] },
    });
    expect(seen).toEqual([]);
  });

  // Fails if readStageContext stops parsing the declared state: checked by skipping that parse.
  it('fails with INVALID_STATE when what a task kept is not what the stage declares; the task never runs', async () => {
    seen.length = 0;
    const result = await task.run(contextWith({ replicas: 2, 'probe.chosen': 'web' }));
    expect(result).toMatchObject({
      status: 'TERMINAL',
      error: { code: 'INVALID_STATE', details: [{ path: "['probe.chosen']" }] },
    });
    expect(seen).toEqual([]);
  });

  // Fails if the raw context is no longer laid under the parsed values: checked by dropping it from the merge.
  it('hands the task the parsed config (defaults applied), the state, and the keys no schema names', async () => {
    seen.length = 0;
    const absent = await task.run(contextWith({ replicas: 2, 'jibe.transientFailures': 1 }));
    const kept = await task.run(contextWith({ replicas: 2, 'probe.chosen': { name: 'web' } }));
    expect([absent.status, kept.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(seen).toEqual([
      { replicas: 2, mode: 'a', chosen: undefined, engineKey: 1 },
      { replicas: 2, mode: 'a', chosen: 'web', engineKey: undefined },
    ]);
  });
});
