/**
 * Statuses of executions, stages and tasks, with Spinnaker's names and meanings
 * (docs/spinnaker.md#execution-document, #final-status).
 */
export const EXECUTION_STATUSES = [
  'NOT_STARTED',
  'RUNNING',
  'PAUSED',
  'SUCCEEDED',
  'FAILED_CONTINUE',
  'TERMINAL',
  'CANCELED',
  'STOPPED',
  'SKIPPED',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** Statuses after which a stage lets its downstream stages start. */
export const LETS_DOWNSTREAM_RUN: ReadonlySet<ExecutionStatus> = new Set(['SUCCEEDED', 'FAILED_CONTINUE', 'SKIPPED']);
/** Statuses from which nothing moves on its own. */
export const FINISHED: ReadonlySet<ExecutionStatus> = new Set([
  'SUCCEEDED',
  'FAILED_CONTINUE',
  'TERMINAL',
  'CANCELED',
  'STOPPED',
  'SKIPPED',
]);

/** What a task reports (Orca's contract): done, not yet (come back later), or failed for good. */
export type TaskStatus = 'NOT_STARTED' | 'RUNNING' | 'SUCCEEDED' | 'TERMINAL' | 'CANCELED' | 'SKIPPED';

/** Why a stage or execution failed: what, where, and (for Kubernetes) what the API answered. */
export interface ExecutionError {
  readonly message: string;
  readonly code?: string;
  readonly details?: readonly { readonly path: string; readonly message: string }[];
}

export interface TaskState {
  readonly name: string;
  status: TaskStatus;
  startTime: number | null;
  endTime: number | null;
  /** Runs of this task so far, counting retries after transient errors. */
  attempts: number;
}

/** One stage of one execution, as the engine keeps it. */
export interface StageState {
  readonly id: string;
  readonly refId: string;
  readonly type: string;
  readonly name: string;
  readonly requisiteStageRefIds: readonly string[];
  /** The stage JSON from the pipeline, expressions unevaluated. */
  readonly config: Record<string, unknown>;
  status: ExecutionStatus;
  /** The evaluated config plus what tasks wrote while running. */
  context: Record<string, unknown>;
  /** What the stage hands to downstream stages (merged into their expression scope). */
  outputs: Record<string, unknown>;
  tasks: TaskState[];
  error: ExecutionError | null;
  startTime: number | null;
  endTime: number | null;
}

/** The parts of an execution the pure transitions need. */
export interface ExecutionGraph {
  readonly stages: readonly StageState[];
}

/** Stages that are NOT_STARTED and whose requisites all let them run. */
export function readyStages(graph: ExecutionGraph): StageState[] {
  const byRef = new Map(graph.stages.map((s) => [s.refId, s]));
  return graph.stages.filter(
    (stage) =>
      stage.status === 'NOT_STARTED' &&
      stage.requisiteStageRefIds.every((ref) => {
        const parent = byRef.get(ref);
        return parent !== undefined && LETS_DOWNSTREAM_RUN.has(parent.status);
      }),
  );
}

/** Every stage downstream of `refId` (not including it), in pipeline order. */
export function downstreamOf(graph: ExecutionGraph, refId: string): StageState[] {
  const found = new Set<string>([refId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const stage of graph.stages) {
      if (!found.has(stage.refId) && stage.requisiteStageRefIds.some((r) => found.has(r))) {
        found.add(stage.refId);
        grew = true;
      }
    }
  }
  found.delete(refId);
  return graph.stages.filter((s) => found.has(s.refId));
}

/**
 * The status a failing stage ends with, from its flags (Orca's `Stage.failureStatus()`):
 * `continuePipeline` → FAILED_CONTINUE (downstream still runs); `failPipeline: false` → STOPPED (this branch halts,
 * others finish); otherwise TERMINAL.
 */
export function failureStatus(config: Record<string, unknown>): ExecutionStatus {
  if (config['continuePipeline'] === true) return 'FAILED_CONTINUE';
  if (config['failPipeline'] === false) return 'STOPPED';
  return 'TERMINAL';
}

/**
 * The execution's status once nothing more can run, or undefined while something still can
 * (CompleteExecutionHandler `determineFinalStatus`, docs/spinnaker.md#final-status).
 */
export function finalStatus(graph: ExecutionGraph): ExecutionStatus | undefined {
  const stages = graph.stages;
  if (stages.some((s) => s.status === 'RUNNING')) return undefined;
  if (readyStages(graph).length > 0) return undefined;
  if (stages.some((s) => s.status === 'TERMINAL')) return 'TERMINAL';
  if (stages.some((s) => s.status === 'CANCELED')) return 'CANCELED';
  const stopped = stages.filter((s) => s.status === 'STOPPED');
  if (stopped.length > 0) {
    return stopped.some((s) => s.config['completeOtherBranchesThenFail'] === true) ? 'TERMINAL' : 'SUCCEEDED';
  }
  return 'SUCCEEDED';
}

/**
 * Whether a failed stage must end the whole execution at once (TERMINAL without completeOtherBranchesThenFail):
 * Orca then cancels the other running branches.
 */
export function failsExecutionImmediately(stage: StageState): boolean {
  return stage.status === 'TERMINAL' && stage.config['completeOtherBranchesThenFail'] !== true;
}
