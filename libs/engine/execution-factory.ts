import { type ParameterConfig, ValidationError, type ErrorDetail } from '@jibe/domain';
import { ExecutionEntity, type PipelineEntity, StageExecutionEntity } from '@jibe/persistence';
import { ulid } from './ulid';

/** What starts an execution: Spinnaker's trigger map (`type`, `user`, `parameters`, `artifacts`, …). */
export interface TriggerRequest {
  readonly type?: string;
  readonly user?: string;
  readonly parameters?: Record<string, unknown>;
  readonly artifacts?: unknown[];
  readonly [key: string]: unknown;
}

/**
 * Checks parameters against the pipeline's `parameterConfig`: fills defaults, requires the required ones, and
 * keeps values within `options` when the parameter has them. Parameters the config does not name pass through,
 * as in Spinnaker.
 */
export function resolveParameters(
  config: readonly ParameterConfig[],
  given: Record<string, unknown>,
): Record<string, unknown> {
  const resolved: Record<string, unknown> = { ...given };
  const details: ErrorDetail[] = [];
  for (const parameter of config) {
    const path = `parameters.${parameter.name}`;
    let value = given[parameter.name];
    if (value === undefined || value === null || value === '') {
      value = parameter.default ?? undefined;
      if (value === undefined || value === '') {
        if (parameter.required) details.push({ path, message: 'required' });
        if (value === undefined) continue;
      }
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      details.push({ path, message: 'must be a string, number or boolean' });
      continue;
    }
    const options = (parameter.options ?? []).map((o) => String(o.value)).filter((o) => o !== '');
    if (parameter.hasOptions && options.length > 0 && !options.includes(String(value))) {
      details.push({ path, message: `must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}` });
      continue;
    }
    resolved[parameter.name] = value;
  }
  if (details.length > 0) {
    throw new ValidationError(
      `parameters are invalid: ${details.length} problem${details.length === 1 ? '' : 's'}`,
      details,
    );
  }
  return resolved;
}

/** Builds the rows of a new execution of `pipeline`, waiting for its StartExecution message. */
export function buildExecution(
  pipeline: PipelineEntity,
  trigger: TriggerRequest,
  now: number,
  parent?: { executionId: string; stageId: string },
): { execution: ExecutionEntity; stages: StageExecutionEntity[] } {
  const config = pipeline.config;
  const parameters = resolveParameters(
    (config['parameterConfig'] ?? []) as ParameterConfig[],
    trigger.parameters ?? {},
  );
  const execution = new ExecutionEntity();
  execution.id = ulid(now);
  execution.application = pipeline.application;
  execution.pipelineId = pipeline.id;
  execution.pipelineVersion = pipeline.version;
  execution.name = pipeline.name;
  execution.status = 'NOT_STARTED';
  execution.trigger = { type: 'manual', user: 'anonymous', artifacts: [], ...trigger, parameters };
  execution.pipelineConfig = Object.fromEntries(Object.entries(config).filter(([key]) => key !== 'stages'));
  execution.waiting = false;
  execution.canceled = false;
  execution.canceledBy = null;
  execution.cancellationReason = null;
  execution.pausedAt = null;
  execution.pausedMs = 0;
  execution.parentExecutionId = parent?.executionId ?? null;
  execution.parentStageId = parent?.stageId ?? null;
  execution.buildTime = now;
  execution.startTime = null;
  execution.endTime = null;
  execution.dueMessage = 'StartExecution';
  execution.dueSeq = 1;
  execution.dueAt = now;
  const stages = ((config['stages'] ?? []) as Record<string, unknown>[]).map((raw, position) => {
    const stage = new StageExecutionEntity();
    stage.id = ulid(now);
    stage.executionId = execution.id;
    stage.position = position;
    stage.refId = String(raw['refId']);
    stage.type = String(raw['type']);
    stage.name = typeof raw['name'] === 'string' && raw['name'] !== '' ? raw['name'] : `${stage.type} ${stage.refId}`;
    stage.requisiteStageRefIds = ((raw['requisiteStageRefIds'] ?? []) as unknown[]).map(String);
    stage.config = raw;
    stage.status = 'NOT_STARTED';
    stage.context = {};
    stage.outputs = {};
    stage.tasks = [];
    stage.error = null;
    stage.startTime = null;
    stage.endTime = null;
    stage.pausedMsAtStart = 0;
    stage.dueMessage = null;
    stage.dueSeq = 0;
    stage.dueAt = null;
    return stage;
  });
  return { execution, stages };
}
