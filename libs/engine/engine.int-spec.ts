import { defineStage, type TaskContext, type TaskResult, TransientError, ValidationError } from '@jibe/domain';
import { ApplicationRepository, EXECUTION_CHANNEL, ExecutionRepository, PipelineRepository } from '@jibe/persistence';
import { stageRegistry } from '@jibe/stages';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventually } from '../../test/support/engine-fixtures';
import { type EngineHarness, startEngine } from '../../test/support/engine-harness';
import { EngineClock } from './engine-clock';
import { jobIdOf } from './engine-message';
import { EngineQueue } from './engine.queue';
import { RetentionService } from './retention.service';
import { SweeperService } from './sweeper.service';

/** A stage type for these tests: a task outside the transaction that fails transiently `failures` times first. */
const attemptsByStage = new Map<string, number>();
const flakyStage = defineStage({
  type: 'flaky',
  description: 'test: fails transiently a given number of times, then succeeds',
  config: z.looseObject({ failures: z.number().int().min(0) }),
  tasks: [
    {
      name: 'flaky',
      run: (context) => {
        const attempts = (attemptsByStage.get(context.stage.id) ?? 0) + 1;
        attemptsByStage.set(context.stage.id, attempts);
        if (attempts <= Number(context.stage.context['failures'])) {
          return Promise.reject(new TransientError(`connection reset (attempt ${attempts})`, 10));
        }
        return Promise.resolve({ status: 'SUCCEEDED', outputs: { attempts } });
      },
    },
  ],
});

/** Two tasks, each failing transiently `failures` times before it succeeds: retries must count per task. */
const twiceFlakyStage = defineStage({
  type: 'twiceFlaky',
  description: 'test: two tasks that each fail transiently a few times',
  config: z.looseObject({ failures: z.number().int().min(0) }),
  tasks: ['first', 'second'].map((name) => ({
    name,
    run: (context: TaskContext): Promise<TaskResult> => {
      const key = `${context.stage.id}.${name}`;
      const attempts = (attemptsByStage.get(key) ?? 0) + 1;
      attemptsByStage.set(key, attempts);
      if (attempts <= Number(context.stage.context['failures'])) {
        return Promise.reject(new TransientError(`503 from the cluster (${name}, attempt ${attempts})`, 5));
      }
      return Promise.resolve({ status: 'SUCCEEDED' });
    },
  })),
});

/** A task outside the transaction that takes a while: pausing and resuming meanwhile must not lose or repeat it. */
const runsByStage = new Map<string, number>();
const slowStage = defineStage({
  type: 'slow',
  description: 'test: a task outside the transaction taking 600 ms',
  config: z.looseObject({}),
  tasks: [
    {
      name: 'slow',
      run: async (context: TaskContext): Promise<TaskResult> => {
        runsByStage.set(context.stage.id, (runsByStage.get(context.stage.id) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 600));
        return { status: 'SUCCEEDED' };
      },
    },
  ],
});

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

const precondition = (
  refId: string,
  passes: boolean,
  requisites: string[] = [],
  extra: Record<string, unknown> = {},
) => ({
  refId,
  type: 'checkPreconditions',
  name: `Check ${refId}`,
  requisiteStageRefIds: requisites,
  preconditions: [{ type: 'expression', context: { expression: `\${ ${passes} }` } }],
  ...extra,
});

const statuses = (execution: { stages: { refId: string; status: string }[] }) =>
  Object.fromEntries(execution.stages.map((s) => [s.refId, s.status]));

async function run(stages: Record<string, unknown>[], extra: Record<string, unknown> = {}, parameters = {}) {
  const started = await engine.executions.start(await pipeline(stages, extra), { user: 'ann', parameters });
  return engine.waitFor(started.id);
}

beforeAll(async () => {
  engine = await startEngine({ registry: stageRegistry.with([flakyStage, twiceFlakyStage, slowStage]) });
  await engine.app
    .get(ApplicationRepository)
    .create('shop', { email: null, description: null, attributes: {} }, 'test');
});
afterAll(async () => {
  await engine.close();
});

describe('graph semantics', () => {
  it('runs a fan-out/fan-in graph: the join starts only after both branches', async () => {
    const done = await run([wait('a'), wait('b', ['a']), wait('c', ['a'], { waitTime: 1 }), wait('d', ['b', 'c'])]);
    expect(done.status).toBe('SUCCEEDED');
    const byRef = Object.fromEntries(done.stages.map((s) => [s.refId, s]));
    expect(statuses(done)).toEqual({ a: 'SUCCEEDED', b: 'SUCCEEDED', c: 'SUCCEEDED', d: 'SUCCEEDED' });
    expect(byRef['d']!.startTime!).toBeGreaterThanOrEqual(byRef['c']!.endTime!);
    expect(byRef['c']!.endTime! - byRef['c']!.startTime!).toBeGreaterThanOrEqual(1000);
  });

  it('skips a stage whose stageEnabled is false, and downstream still runs', async () => {
    const done = await run(
      [
        wait('a', [], { stageEnabled: { type: 'expression', expression: "parameters.env == 'prod'" } }),
        wait('b', ['a']),
      ],
      { parameterConfig: [{ name: 'env', default: 'staging' }] },
    );
    expect(done.status).toBe('SUCCEEDED');
    expect(statuses(done)).toEqual({ a: 'SKIPPED', b: 'SUCCEEDED' });
  });

  it('fails the whole execution on a failure and cancels the branch still running', async () => {
    const done = await run([
      wait('first', [], { waitTime: 1 }),
      precondition('a', false, ['first']),
      wait('slow', [], { waitTime: 30 }),
      wait('after', ['a']),
    ]);
    expect(done.status).toBe('TERMINAL');
    expect(statuses(done)).toEqual({ first: 'SUCCEEDED', a: 'TERMINAL', slow: 'CANCELED', after: 'NOT_STARTED' });
    expect(done.stages[2]!.error).toEqual({ code: 'CANCELED', message: 'canceled: stage "Check a" failed' });
    expect(done.stages[1]!.error).toMatchObject({ code: 'PRECONDITION_FAILED', message: 'expression was false' });
  });

  it('continuePipeline: FAILED_CONTINUE, downstream runs, the execution succeeds', async () => {
    const done = await run([precondition('a', false, [], { continuePipeline: true }), wait('b', ['a'])]);
    expect(statuses(done)).toEqual({ a: 'FAILED_CONTINUE', b: 'SUCCEEDED' });
    expect(done.status).toBe('SUCCEEDED');
  });

  it('failPipeline false: STOPPED halts that branch only, and the execution succeeds', async () => {
    const done = await run([
      precondition('a', false, [], { failPipeline: false }),
      wait('a2', ['a']),
      wait('b', [], { waitTime: 1 }),
      wait('b2', ['b']),
    ]);
    expect(statuses(done)).toEqual({ a: 'STOPPED', a2: 'NOT_STARTED', b: 'SUCCEEDED', b2: 'SUCCEEDED' });
    expect(done.status).toBe('SUCCEEDED');
  });

  it('completeOtherBranchesThenFail: the other branches finish, then the execution is TERMINAL', async () => {
    const done = await run([
      precondition('a', false, [], { completeOtherBranchesThenFail: true }),
      wait('b', [], { waitTime: 1 }),
      wait('b2', ['b']),
    ]);
    expect(statuses(done)).toEqual({ a: 'TERMINAL', b: 'SUCCEEDED', b2: 'SUCCEEDED' });
    expect(done.status).toBe('TERMINAL');
  });

  it('times a stage out (stageTimeoutMs) with a message that says so', async () => {
    const done = await run([wait('a', [], { waitTime: 60, stageTimeoutMs: 300 })]);
    expect(done.status).toBe('TERMINAL');
    expect(done.stages[0]!.error).toEqual({ code: 'TIMEOUT', message: 'stage "Wait a" timed out after 300 ms' });
  });

  it('retries a task that fails transiently, and gives up after the retry limit', async () => {
    const ok = await run([{ refId: 'f', type: 'flaky', failures: 2 }]);
    expect(ok.status).toBe('SUCCEEDED');
    expect(ok.stages[0]!.outputs).toEqual({ attempts: 3 });
    const failed = await run([{ refId: 'f', type: 'flaky', failures: 99 }]);
    expect(failed.status).toBe('TERMINAL');
    expect(failed.stages[0]!.error).toMatchObject({ code: 'RETRIES_EXHAUSTED' });
    expect(failed.stages[0]!.error!.message).toMatch(/connection reset \(attempt 6\)/);
  });
});

describe('retries and pauses meet', () => {
  it('counts transient retries per task: two tasks with four blips each still succeed', async () => {
    const done = await run([{ refId: 't', type: 'twiceFlaky', failures: 4 }]);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stages[0]!.tasks.map((t) => [t.name, t.status, t.attempts])).toEqual([
      ['first', 'SUCCEEDED', 5],
      ['second', 'SUCCEEDED', 5],
    ]);
    expect(done.stages[0]!.context).toMatchObject({ 'jibe.transientFailures': 8 });
    expect(done.stages[0]!.context['jibe.transientRetries']).toBeUndefined();
  });

  it('skipping a stage while paused runs what follows once resumed', async () => {
    const started = await engine.executions.start(
      await pipeline([wait('a', [], { waitTime: 60 }), wait('b', ['a'])]),
      {},
    );
    const running = await engine.waitFor(started.id, (e) => e.stages[0]!.status === 'RUNNING');
    await engine.executions.pause(started.id);
    await engine.executions.skipStage(started.id, running.stages[0]!.id, 'gina');
    await engine.executions.resume(started.id);
    const done = await engine.waitFor(started.id);
    expect(statuses(done)).toEqual({ a: 'SKIPPED', b: 'SUCCEEDED' });
    expect(done.status).toBe('SUCCEEDED');
  });

  it('pausing and resuming while a task runs outside the transaction keeps its result and runs it once', async () => {
    const started = await engine.executions.start(
      await pipeline([{ refId: 's', type: 'slow' }, wait('after', ['s'])]),
      {},
    );
    const running = await engine.waitFor(started.id, (e) => e.stages[0]!.tasks[0]?.status === 'RUNNING');
    await engine.executions.pause(started.id);
    await engine.executions.resume(started.id);
    // Well within the 5-minute task lease: the running task's own result is what completes the stage, not a rerun.
    const done = await engine.waitFor(started.id, undefined, 60_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(runsByStage.get(running.stages[0]!.id)).toBe(1);
  });

  it('never leaves a ready stage without a message: restarting starts whatever the graph has ready', async () => {
    const first = await run([wait('a'), wait('d', ['a']), wait('b')]);
    expect(first.status).toBe('SUCCEEDED');
    // As after a failure elsewhere cleared its StartStage: d is ready, NOT_STARTED, and nothing is due for it.
    await engine.app.get(ExecutionRepository).transaction((m) =>
      m.query(
        `UPDATE execution_stages SET status = 'NOT_STARTED', start_time = NULL, end_time = NULL, tasks = '[]',
           due_message = NULL, due_at = NULL WHERE execution_id = $1 AND ref_id = 'd'`,
        [first.id],
      ),
    );
    await engine.executions.restartStage(first.id, 'b', 'hal');
    const done = await engine.waitFor(first.id, (e) => e.status === 'SUCCEEDED' && e.stages[1]!.status === 'SUCCEEDED');
    expect(statuses(done)).toEqual({ a: 'SUCCEEDED', d: 'SUCCEEDED', b: 'SUCCEEDED' });
  });
});

describe('parameters and expressions', () => {
  const parameterConfig = [
    { name: 'tag', required: true },
    { name: 'env', default: 'staging', hasOptions: true, options: [{ value: 'staging' }, { value: 'prod' }] },
  ];

  it('fills defaults and evaluates expressions when the stage starts', async () => {
    const done = await run(
      [
        wait('a', [], {
          waitTime: '${ parameters.tag == "v1" ? 0 : 5 }',
          note: 'deploying ${parameters.tag} to ${parameters.env}',
        }),
      ],
      { parameterConfig },
      { tag: 'v1' },
    );
    expect(done.status).toBe('SUCCEEDED');
    expect(done.trigger['parameters']).toEqual({ tag: 'v1', env: 'staging' });
    expect(done.stages[0]!.context).toMatchObject({ waitTime: 0, note: 'deploying v1 to staging' });
  });

  it('refuses to start with a missing required parameter or a value outside the options, naming each', async () => {
    const id = await pipeline([wait('a')], { parameterConfig });
    const error = await engine.executions.start(id, { parameters: { env: 'qa' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toEqual([
      { path: 'parameters.tag', message: 'required' },
      { path: 'parameters.env', message: 'must be one of "staging", "prod"' },
    ]);
  });

  it('fails the stage with the expression, its location and the reason when an expression fails', async () => {
    const done = await run([wait('a', [], { waitTime: '${ parameters.missing.deeper }' })]);
    expect(done.status).toBe('TERMINAL');
    const error = done.stages[0]!.error!;
    expect(error.code).toBe('EXPRESSION_FAILED');
    expect(error.message).toContain('parameters.missing.deeper');
    expect(error.details![0]!.path).toBe('waitTime');
  });

  it('refuses hostile expressions and runs nothing they ask for', async () => {
    // Probes that any naive evaluation would set off: a global a JavaScript payload calls, a getter inherited by every
    // object (an evaluator that reads inherited properties runs it), and an inherited method under a name the parser
    // allows (an evaluator that calls whatever method it finds runs it). Prototypes are snapshotted before the probes
    // go in and compared after they are removed, so a payload that polluted or replaced anything shows up as well.
    // Fails if readOwnData reads inherited properties (`key in target ? target[key]`), or if callMethod calls a
    // receiver's own JavaScript method when it is not in its type's whitelist: checked by making each change once.
    const builtins = { Object, Function, Array, String, Number, Boolean, RegExp, Promise, Map, Set };
    // Every own property of each builtin and its prototype, with values and accessors by identity (a replaced method
    // shows, and nothing is read through a getter).
    const identities = new Map<unknown, number>();
    const identity = (value: unknown): string => {
      if ((typeof value !== 'object' || value === null) && typeof value !== 'function') return String(value);
      if (!identities.has(value)) identities.set(value, identities.size);
      return `#${identities.get(value)}`;
    };
    const describe = (target: object): string[] =>
      Reflect.ownKeys(target)
        .map((key) => {
          const d = Object.getOwnPropertyDescriptor(target, key) as Record<string, unknown>;
          const flags = `${String(d['enumerable'])}/${String(d['configurable'])}/${String(d['writable'])}`;
          const parts = [`value=${identity(d['value'])}`, `get=${identity(d['get'])}`, `set=${identity(d['set'])}`];
          return `${String(key)} ${parts.join(' ')} ${flags}`;
        })
        .sort();
    const snapshot = () =>
      Object.fromEntries(
        Object.entries(builtins).map(([name, type]) => [
          name,
          { prototype: describe(type.prototype as object), statics: describe(type) },
        ]),
      );
    const before = snapshot();
    const ran: string[] = [];
    const globals = globalThis as Record<string, unknown>;
    globals['jibeHostile'] = (label: string) => ran.push(`payload: ${label}`);
    Object.defineProperty(Object.prototype, 'jibeProbe', {
      configurable: true,
      get: () => ran.push('an inherited getter was read'),
    });
    Object.defineProperty(Object.prototype, 'equalsIgnoreCase', {
      configurable: true,
      writable: true,
      value: () => ran.push('an inherited method was called'),
    });
    try {
      // The probes are live: plain JavaScript that reaches them records a marker.
      const plain = JSON.parse('{}') as Record<string, unknown> & { equalsIgnoreCase(): void };
      void plain['jibeProbe'];
      plain.equalsIgnoreCase();
      expect(ran).toEqual(['an inherited getter was read', 'an inherited method was called']);
      ran.length = 0;

      const hostile = [
        // JavaScript payloads: evaluated as JavaScript, each calls jibeHostile or pollutes Object.prototype.
        '${ trigger.constructor.constructor(\'globalThis.jibeHostile("constructor chain")\')() }',
        "${ trigger['con' + 'structor']['con' + 'structor']('globalThis.jibeHostile(\"computed keys\")')() }",
        '${ new Function(\'globalThis.jibeHostile("new")\')() }',
        "${ trigger['__proto__'].jibePolluted = 'yes' }",
        // SpEL's own escape hatches, refused rather than resolved.
        '${ T(java.lang.Runtime).getRuntime().exec("id") }',
        // Valid syntax that reaches a probe if names resolve through the prototype chain or methods are not checked.
        '${ trigger.jibeProbe }',
        "${ parameters['jibe' + 'Probe'].size() }",
        "${ trigger['__pro' + 'to__'] }",
        "${ trigger.equalsIgnoreCase('x') }",
        "${ {1, 2}.equalsIgnoreCase('x') }",
      ];
      for (const waitTime of hostile) {
        const done = await run([wait('h', [], { waitTime })]);
        expect(ran, waitTime).toEqual([]);
        expect(done.status, waitTime).toBe('TERMINAL');
        expect(done.stages[0]!.error, waitTime).toMatchObject({
          code: 'EXPRESSION_FAILED',
          details: [{ path: 'waitTime' }],
        });
      }
      expect(ran).toEqual([]);
    } finally {
      delete globals['jibeHostile'];
      Reflect.deleteProperty(Object.prototype, 'jibeProbe');
      Reflect.deleteProperty(Object.prototype, 'equalsIgnoreCase');
    }
    expect(snapshot()).toEqual(before);
    expect(globals['jibePolluted']).toBeUndefined();
  });
});

describe('control operations', () => {
  it('waits for a manual judgment; continue passes its input downstream through #judgment', async () => {
    const id = await pipeline([
      { refId: 'j', type: 'manualJudgment', name: 'Approve', judgmentInputs: [{ value: 'ship' }, { value: 'hold' }] },
      wait('after', ['j'], { note: "${ #judgment('Approve') }" }),
    ]);
    const started = await engine.executions.start(id, {});
    const waiting = await engine.waitFor(started.id, (e) => e.stages[0]!.status === 'RUNNING');
    const stageId = waiting.stages[0]!.id;
    await expect(
      engine.executions.judge(started.id, stageId, { judgmentStatus: 'continue', judgmentInput: 'maybe' }, 'bob'),
    ).rejects.toMatchObject({
      details: [{ path: 'judgmentInput', message: 'must be one of "ship", "hold"' }],
    });
    await engine.executions.judge(started.id, stageId, { judgmentStatus: 'continue', judgmentInput: 'ship' }, 'bob');
    const done = await engine.waitFor(started.id);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stages[0]!.outputs).toMatchObject({
      judgmentStatus: 'continue',
      judgmentInput: 'ship',
      judgedBy: 'bob',
    });
    expect(done.stages[1]!.context['note']).toBe('ship');
    await expect(engine.executions.judge(started.id, stageId, { judgmentStatus: 'stop' }, 'bob')).rejects.toMatchObject(
      {
        code: 'NOT_WAITING',
      },
    );
  });

  it('a stop judgment ends the execution TERMINAL, saying who stopped it', async () => {
    const started = await engine.executions.start(
      await pipeline([{ refId: 'j', type: 'manualJudgment', name: 'Approve' }]),
      {},
    );
    const waiting = await engine.waitFor(started.id, (e) => e.stages[0]!.status === 'RUNNING');
    await engine.executions.judge(started.id, waiting.stages[0]!.id, { judgmentStatus: 'stop' }, 'carol');
    const done = await engine.waitFor(started.id);
    expect(done.status).toBe('TERMINAL');
    expect(done.stages[0]!.error).toEqual({ code: 'JUDGMENT_STOPPED', message: 'stopped at manual judgment by carol' });
  });

  it('cancels a running execution with its reason', async () => {
    const started = await engine.executions.start(
      await pipeline([wait('a', [], { waitTime: 60 }), wait('b', ['a'])]),
      {},
    );
    await engine.waitFor(started.id, (e) => e.stages[0]!.status === 'RUNNING');
    const canceled = await engine.executions.cancel(started.id, 'dave', 'wrong branch');
    expect(canceled).toMatchObject({
      status: 'CANCELED',
      canceled: true,
      canceledBy: 'dave',
      cancellationReason: 'wrong branch',
    });
    expect(statuses(canceled)).toEqual({ a: 'CANCELED', b: 'NOT_STARTED' });
    await expect(engine.executions.cancel(started.id, 'dave', 'again')).rejects.toMatchObject({
      code: 'ALREADY_FINISHED',
    });
  });

  it('skips a running stage; downstream runs as after a success', async () => {
    const started = await engine.executions.start(
      await pipeline([wait('a', [], { waitTime: 60 }), wait('b', ['a'])]),
      {},
    );
    const running = await engine.waitFor(started.id, (e) => e.stages[0]!.status === 'RUNNING');
    await engine.executions.skipStage(started.id, running.stages[0]!.id, 'erin');
    const done = await engine.waitFor(started.id);
    expect(statuses(done)).toEqual({ a: 'SKIPPED', b: 'SUCCEEDED' });
    expect(done.stages[0]!.context).toMatchObject({ manualSkip: true, skippedBy: 'erin' });
  });

  it('restarts a finished stage and everything downstream of it', async () => {
    const first = await run([wait('a'), wait('b', ['a']), wait('c', ['b'])]);
    const before = Object.fromEntries(first.stages.map((s) => [s.refId, s.startTime]));
    await engine.executions.restartStage(first.id, 'b', 'frank');
    const done = await engine.waitFor(
      first.id,
      (e) => e.status === 'SUCCEEDED' && e.stages[2]!.startTime! > before['c']!,
    );
    expect(statuses(done)).toEqual({ a: 'SUCCEEDED', b: 'SUCCEEDED', c: 'SUCCEEDED' });
    expect(done.stages[0]!.startTime).toBe(before['a']);
    expect(done.stages[1]!.context['restartDetails']).toMatchObject({ restartedBy: 'frank' });
    await expect(engine.executions.restartStage(first.id, 'zzz', 'frank')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('concurrency', () => {
  it('limitConcurrent without keepWaitingPipelines: the newest waiting execution runs next, older waiting ones are canceled', async () => {
    const id = await pipeline([wait('a', [], { waitTime: 60 })], {
      limitConcurrent: true,
      keepWaitingPipelines: false,
    });
    const first = await engine.executions.start(id, {});
    await engine.waitFor(first.id, (e) => e.status === 'RUNNING');
    const second = await engine.executions.start(id, {});
    const third = await engine.executions.start(id, {});
    await engine.waitFor(third.id, (e) => e.waiting);
    await engine.waitFor(second.id, (e) => e.waiting);
    await engine.executions.cancel(first.id, 'ann', 'make room');
    await engine.waitFor(third.id, (e) => e.status === 'RUNNING');
    const superseded = await engine.waitFor(second.id);
    expect(superseded.status).toBe('CANCELED');
    expect(superseded.cancellationReason).toMatch(/superseded by newer execution/);
    await engine.executions.cancel(third.id, 'ann', 'done');
  });

  it('keepWaitingPipelines: waiting executions run one at a time, oldest first', async () => {
    const id = await pipeline([wait('a', [], { waitTime: 1 })], { limitConcurrent: true, keepWaitingPipelines: true });
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await engine.executions.start(id, {}));
    const done = await Promise.all(runs.map((r) => engine.waitFor(r.id)));
    expect(done.map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(done[1]!.startTime!).toBeGreaterThanOrEqual(done[0]!.endTime!);
    expect(done[2]!.startTime!).toBeGreaterThanOrEqual(done[1]!.endTime!);
  });
});

describe('child pipelines', () => {
  it('runs a child pipeline and waits for it; a failing child fails the stage', async () => {
    const child = await pipeline([wait('c1', [], { waitTime: 1 })]);
    const parent = await run([
      { refId: 'p', type: 'pipeline', application: 'shop', pipeline: child },
      wait('after', ['p']),
    ]);
    expect(parent.status).toBe('SUCCEEDED');
    const childId = parent.stages[0]!.outputs['executionId'] as string;
    const childExecution = await engine.executions.get(childId);
    expect(childExecution).toMatchObject({ status: 'SUCCEEDED', parentExecution: { id: parent.id } });
    expect(childExecution.trigger).toMatchObject({ type: 'pipeline' });

    const failing = await pipeline([precondition('x', false)]);
    const failedParent = await run([{ refId: 'p', type: 'pipeline', application: 'shop', pipeline: failing }]);
    expect(failedParent.status).toBe('TERMINAL');
    expect(failedParent.stages[0]!.error!.message).toMatch(/ended TERMINAL$/);
  });
});

describe('notifications and retention', () => {
  it('sends a Postgres NOTIFY for every change, ending with the final status', async () => {
    const client = new Client({ connectionString: engine.database.url });
    await client.connect();
    const seen: { id: string; status: string }[] = [];
    client.on('notification', (n) => seen.push(JSON.parse(n.payload!) as { id: string; status: string }));
    await client.query(`LISTEN ${EXECUTION_CHANNEL}`);
    const done = await run([wait('a'), wait('b', ['a'])]);
    // The final NOTIFY is delivered on its own schedule: wait for it rather than for a fixed moment.
    const mine = await eventually(
      'the NOTIFY of the final status arrives',
      () => {
        const statusesSeen = seen.filter((n) => n.id === done.id).map((n) => n.status);
        return Promise.resolve(statusesSeen.includes('SUCCEEDED') ? statusesSeen : undefined);
      },
      30_000,
    );
    await client.end();
    expect(mine[0]).toBe('NOT_STARTED');
    expect(mine).toContain('RUNNING');
    expect(mine[mine.length - 1]).toBe('SUCCEEDED');
  });

  it('deletes finished executions past the retention age in batches, keeping the newest per pipeline', async () => {
    const id = await pipeline([wait('a')]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await engine.waitFor((await engine.executions.start(id, {})).id)).id);
    const repository = engine.app.get(ExecutionRepository);
    // The four oldest are from last year; the newest is recent.
    await repository.transaction((m) =>
      m.query(`UPDATE executions SET build_time = build_time - 365::bigint * 86400000 WHERE id = ANY($1)`, [
        ids.slice(0, 4),
      ]),
    );
    const clock = { now: () => Date.now() };
    const retention = new RetentionService(repository, clock, {
      enabled: true,
      maxAgeDays: 30,
      keepPerPipeline: 2,
      batchSize: 1,
      intervalMs: 60_000,
    });
    expect(await retention.purge()).toBe(3);
    const remaining = await repository.list({ pipelineId: id, limit: 10 });
    expect(remaining.items.map((e) => e.id)).toEqual([ids[4], ids[3]]);
    const orphanStages = await repository.transaction((m) =>
      m.query<unknown[]>(`SELECT 1 FROM execution_stages WHERE execution_id = ANY($1)`, [ids.slice(0, 3)]),
    );
    expect(orphanStages).toHaveLength(0);
  });
});

describe('on a clock the test moves', () => {
  // Leases, timeouts and paused time are measured on the engine's clock. Here it stands still unless the test moves
  // it, so what these tests check follows from the order of events they wait for, never from how fast this machine
  // happens to be.
  const LEASE_MS = 1_000;
  const SWEEP_GRACE_MS = 200;
  let clocked: EngineHarness;
  let now = Date.now();
  const advance = (ms: number) => (now += ms);

  /** A task outside the transaction that holds on until the test lets it go; runs counted per stage. */
  const heldRuns = new Map<string, number>();
  let releaseHeld: () => void = () => undefined;
  let held = Promise.resolve();
  const heldStage = defineStage({
    type: 'held',
    description: 'test: a task outside the transaction that runs until the test releases it',
    config: z.looseObject({}),
    tasks: [
      {
        name: 'held',
        run: async (context: TaskContext): Promise<TaskResult> => {
          heldRuns.set(context.stage.id, (heldRuns.get(context.stage.id) ?? 0) + 1);
          await held;
          return { status: 'SUCCEEDED' };
        },
      },
    ],
  });

  async function startOnClock(stages: Record<string, unknown>[]) {
    const id = `clocked${++pipelineSeq}`;
    await clocked.app
      .get(PipelineRepository)
      .create(id, { application: 'shop', name: id, config: { application: 'shop', name: id, stages } }, 'test');
    return clocked.executions.start(id, {});
  }

  async function stageRow(executionId: string, stageId: string) {
    const stages = await clocked.app.get(ExecutionRepository).stagesOf([executionId]);
    return stages.find((s) => s.id === stageId)!;
  }

  beforeAll(async () => {
    clocked = await startEngine({
      registry: stageRegistry.with([heldStage]),
      // A lease is renewed every second of real time (its floor); the sweeper looks every 200 ms.
      settings: { taskLeaseMs: LEASE_MS, sweepGraceMs: SWEEP_GRACE_MS, sweepIntervalMs: 200 },
    });
    clocked.app.get(EngineClock).now = () => now;
    await clocked.app
      .get(ApplicationRepository)
      .create('shop', { email: null, description: null, attributes: {} }, 'test');
  });
  afterAll(async () => {
    releaseHeld();
    await clocked?.close();
  });

  it('renews the lease of a task that outlives it, so a slow task is never run twice at once', async () => {
    // Fails if run-task.handler stops renewing (its setInterval body emptied): the first renewal never comes. Fails
    // too if ExecutionRepository.renewLease stops moving due_at. Checked by making each change once.
    held = new Promise((resolve) => (releaseHeld = resolve));
    const started = await startOnClock([{ refId: 'h', type: 'held' }]);
    const running = await clocked.waitFor(started.id, (e) => e.stages[0]!.tasks[0]?.status === 'RUNNING');
    const stageId = running.stages[0]!.id;
    const firstLease = await eventually(
      'the task runs under its first lease',
      async () => {
        const row = await stageRow(started.id, stageId);
        return heldRuns.get(stageId) === 1 && row.dueMessage === 'RunTask' ? row : undefined;
      },
      30_000,
    );
    expect(firstLease.dueAt).toBe(now + LEASE_MS);

    // Each step moves the clock half a lease, then waits for the renewal that moves the lease ahead of it again:
    // the lease never runs out while the task runs, however slowly this machine gets there.
    const sweeper = clocked.app.get(SweeperService);
    const renewals: number[] = [];
    for (let step = 1; step <= 4; step++) {
      advance(LEASE_MS / 2);
      const renewed = await eventually(
        `the lease is renewed after the clock moved ${step * (LEASE_MS / 2)} ms`,
        async () => {
          const row = await stageRow(started.id, stageId);
          return row.dueAt === now + LEASE_MS ? row : undefined;
        },
        30_000,
      );
      expect(renewed.dueSeq, 'the same lease, renewed rather than taken again').toBe(firstLease.dueSeq);
      renewals.push(renewed.dueAt!);
      expect(await sweeper.sweep(), `nothing for the sweeper to take over at step ${step}`).toBe(0);
    }
    // The first lease would long have run out: without renewals the sweeper would have handed the task to another run.
    expect(now - SWEEP_GRACE_MS).toBeGreaterThan(firstLease.dueAt!);
    expect(renewals).toHaveLength(4);

    releaseHeld();
    const done = await clocked.waitFor(started.id, undefined, 60_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(heldRuns.get(stageId)).toBe(1);
    expect(done.stages[0]!.tasks.map((t) => [t.status, t.attempts])).toEqual([['SUCCEEDED', 1]]);
  }, 180_000);

  it('pauses and resumes: nothing moves while paused, and paused time does not count against timeouts', async () => {
    // Fails if RunTaskHandler lets a paused execution move (its PAUSED check dropped and PAUSED treated as RUNNING: the
    // wake-up below ends the wait and starts "after"; the check merely dropped clears the due message and the
    // execution never finishes), or if execution-runner's stageTimeout stops subtracting paused time (the judgment
    // times out on its first check after resume). Checked by making each change once.
    const started = await startOnClock([
      { refId: 'w', type: 'wait', name: 'Wait w', waitTime: 60 },
      { refId: 'after', type: 'wait', name: 'After w', waitTime: 0, requisiteStageRefIds: ['w'] },
      { refId: 'j', type: 'manualJudgment', name: 'Approve', stageTimeoutMs: 5 * 60_000 },
    ]);
    const running = await clocked.waitFor(
      started.id,
      (e) => e.stages[0]!.status === 'RUNNING' && e.stages[2]!.status === 'RUNNING',
    );
    const [wId, , jId] = running.stages.map((s) => s.id);
    await clocked.executions.pause(started.id);
    // Ten minutes pass while paused: the wait is long over, and twice the judgment's timeout has gone by.
    advance(10 * 60_000);
    // The wake-ups of both running stages arrive while paused (sent here rather than waited for) and change nothing.
    const queue = clocked.app.get(EngineQueue);
    const wakes: { kind: 'RunTask'; executionId: string; stageId: string; seq: number }[] = [];
    for (const stageId of [wId!, jId!]) {
      const row = await stageRow(started.id, stageId);
      expect(row.dueMessage).toBe('RunTask');
      wakes.push({ kind: 'RunTask', executionId: started.id, stageId, seq: row.dueSeq });
    }
    await queue.send(wakes.map((wake) => ({ ...wake, delayMs: 0 })));
    // A wake-up already scheduled under the same job id absorbed the send above: bring it forward instead.
    for (const wake of wakes) {
      const job = await queue.queue.getJob(jobIdOf(wake));
      if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
    }
    await eventually(
      'the wake-ups are consumed',
      async () => {
        const states = await Promise.all(wakes.map((wake) => queue.queue.getJobState(jobIdOf(wake))));
        return states.every((state) => state === 'unknown') ? true : undefined;
      },
      30_000,
    );
    const paused = await clocked.executions.get(started.id);
    expect(paused.status).toBe('PAUSED');
    expect(statuses(paused)).toEqual({ w: 'RUNNING', after: 'NOT_STARTED', j: 'RUNNING' });

    const judgmentSeq = (await stageRow(started.id, jId!)).dueSeq;
    await clocked.executions.resume(started.id);
    // The judgment is checked again after resume (its timeout with it): it then waits under a new message, or ended.
    const judgment = await eventually(
      'the judgment is checked again after resume',
      async () => {
        const row = await stageRow(started.id, jId!);
        return row.status !== 'RUNNING' || row.dueSeq > judgmentSeq ? row : undefined;
      },
      30_000,
    );
    expect(judgment.status).toBe('RUNNING');
    await clocked.executions.judge(started.id, jId!, { judgmentStatus: 'continue' }, 'ann');
    const done = await clocked.waitFor(started.id, undefined, 60_000);
    expect(statuses(done)).toEqual({ w: 'SUCCEEDED', after: 'SUCCEEDED', j: 'SUCCEEDED' });
    expect(done.status).toBe('SUCCEEDED');
    expect(done.paused!.pausedMs).toBe(10 * 60_000);
  }, 120_000);
});
