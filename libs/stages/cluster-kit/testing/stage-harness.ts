import {
  type ExecutionError,
  type PortToken,
  type StageDefinition,
  type TaskContext,
  type TaskResult,
  TransientError,
} from '@jibe/domain';
import { ClusterPort } from '../cluster.port';

/**
 * The cluster a stage spec runs against: Jibe's real adapter over HTTP to a simulated cluster
 * (`startStageSimulator` in test/support/stage-simulator.ts), with that cluster's clock. When a task waits, the
 * harness moves the cluster's clock by the same amount, so the cluster's controllers progress exactly as far as the
 * stage's own clock says time has passed. A spec of logic that never reaches a cluster may pass any other ClusterPort.
 */
export type HarnessCluster = ClusterPort & {
  /** The cluster's time (ms since the epoch); the stage starts at it unless `now` is given. */
  now?(): number;
  /** Lets `ms` of the cluster's time pass (its controllers run meanwhile). */
  advance?(ms: number): Promise<void>;
};

/** One run of a stage the way the engine runs it, on a manual clock; for stage specs only. */
export interface StageRun {
  status: 'SUCCEEDED' | 'TERMINAL' | 'RUNNING';
  context: Record<string, unknown>;
  outputs: Record<string, unknown>;
  error?: ExecutionError;
  /** Task names in the order they ran, one entry per run. */
  runs: string[];
  now: number;
  /** When the stage started (the engine keeps it for the whole run; job and hook labels derive from it). */
  startTime: number;
}

export interface HarnessOptions {
  /** Where the tasks write: Jibe's adapter over HTTP to a simulated cluster (test/support/stage-simulator.ts). */
  clusterPort: HarnessCluster;
  ports?: [PortToken<unknown>, unknown][];
  application?: string;
  now?: number;
  /** Other stages of the execution (upstream outputs). */
  stages?: TaskContext['stages'];
  trigger?: Record<string, unknown>;
  /** Called before each task run with the stage's clock (synchronously: to act on the cluster, use `stopBefore`). */
  beforeRun?: (task: string, now: number) => void;
  maxRuns?: number;
  /** Stop (status RUNNING) once this task is about to run. */
  stopBefore?: string;
}

/** Validates `config` with the stage's schema (as saving a pipeline does), then runs its tasks to the end. */
export async function runStage(
  definition: StageDefinition,
  config: Record<string, unknown>,
  options: HarnessOptions,
): Promise<StageRun> {
  const parsed = definition.config.safeParse(config);
  if (!parsed.success) throw new Error(`config rejected: ${parsed.error.message}`);
  const now = options.now ?? options.clusterPort.now?.() ?? 1_000_000;
  const state: StageRun = {
    status: 'RUNNING',
    context: { ...(parsed.data as Record<string, unknown>) },
    outputs: {},
    runs: [],
    now,
    startTime: now,
  };
  return continueStage(definition, state, options);
}

/** Carries on a stage from a state (after a simulated crash, or to re-run a task). */
export async function continueStage(
  definition: StageDefinition,
  state: StageRun,
  options: HarnessOptions,
  fromTask = 0,
): Promise<StageRun> {
  const startTime = state.startTime;
  let index = fromTask;
  let runs = 0;
  while (index < definition.tasks.length) {
    const task = definition.tasks[index]!;
    if (options.stopBefore === task.name) return { ...state, status: 'RUNNING' };
    if (++runs > (options.maxRuns ?? 500)) throw new Error(`stage still running after ${runs - 1} task runs`);
    options.beforeRun?.(task.name, state.now);
    state.runs.push(task.name);
    let result: TaskResult;
    try {
      result = await task.run(contextFor(state, options, startTime));
    } catch (error) {
      if (error instanceof TransientError) {
        await wait(state, options, error.retryAfterMs ?? 1000);
        continue;
      }
      throw error;
    }
    if (result.context) state.context = { ...state.context, ...result.context };
    if (result.status !== 'RUNNING' && result.outputs) state.outputs = { ...state.outputs, ...result.outputs };
    if (result.status === 'TERMINAL') return { ...state, status: 'TERMINAL', error: result.error };
    if (result.status === 'RUNNING') {
      await wait(state, options, result.retryAfterMs);
      continue;
    }
    index += 1;
  }
  return { ...state, status: 'SUCCEEDED' };
}

/** What the engine's delayed message amounts to: the stage's clock and the cluster's move on together. */
async function wait(state: StageRun, options: HarnessOptions, ms: number): Promise<void> {
  state.now += ms;
  await options.clusterPort.advance?.(ms);
}

/** Runs one task once against a state, returning its raw result (idempotency specs run a task twice). */
export async function runTask(
  definition: StageDefinition,
  name: string,
  state: StageRun,
  options: HarnessOptions,
): Promise<TaskResult> {
  const task = definition.tasks.find((t) => t.name === name);
  if (!task) throw new Error(`no task ${name}`);
  const result = await task.run(contextFor(state, options, state.startTime));
  if (result.context) state.context = { ...state.context, ...result.context };
  if (result.status !== 'RUNNING' && result.outputs) state.outputs = { ...state.outputs, ...result.outputs };
  return result;
}

function contextFor(state: StageRun, options: HarnessOptions, startTime: number): TaskContext {
  const stage = {
    id: 'stage-1',
    refId: '1',
    name: 'Stage under test',
    type: 'test',
    status: 'RUNNING' as const,
    context: state.context,
    outputs: state.outputs,
    startTime,
  };
  return {
    execution: {
      id: 'exec-1',
      application: options.application ?? 'shop',
      pipelineId: 'pipeline-1',
      name: 'deploy',
      trigger: options.trigger ?? { type: 'manual', user: 'ann' },
    },
    stage,
    stages: [...(options.stages ?? []), stage],
    now: state.now,
    port: <T>(token: PortToken<T>): T => {
      if (token === (ClusterPort as PortToken<unknown>)) return options.clusterPort as unknown as T;
      const bound = options.ports?.find(([t]) => t === token);
      if (!bound) throw new Error(`no implementation bound for port ${token.name}`);
      return bound[1] as T;
    },
  };
}
