import { type ExecutionError } from '@jibe/domain';
import { evaluateExpression, evaluateTemplate, type ExpressionContext, ExpressionError } from '@jibe/expressions';
import { type StageExecutionEntity } from '@jibe/persistence';
import { type ExecutionUnit } from './execution-unit';

/** Keys of a stage that are structure, not config: never evaluated. */
const STRUCTURAL_KEYS = new Set(['refId', 'requisiteStageRefIds', 'type', 'stageEnabled']);

/**
 * What `${ }` sees when a stage starts: the trigger and parameters, the execution, every stage (for `#stage`), and
 * at the root the outputs of every upstream stage merged in pipeline order, as in Spinnaker.
 */
export function expressionContextFor(unit: ExecutionUnit, stage: StageExecutionEntity): ExpressionContext {
  const execution = unit.execution;
  const parameters = execution.trigger['parameters'];
  return {
    trigger: execution.trigger,
    parameters: parameters !== null && typeof parameters === 'object' ? parameters : {},
    execution: {
      id: execution.id,
      application: execution.application,
      name: execution.name,
      pipelineConfigId: execution.pipelineId,
      status: execution.status,
      buildTime: execution.buildTime,
      startTime: execution.startTime,
      trigger: execution.trigger,
    },
    stages: unit.stages.map((s) => ({
      id: s.id,
      refId: s.refId,
      name: s.name,
      type: s.type,
      status: s.status,
      context: s.context,
      outputs: s.outputs,
      startTime: s.startTime,
      endTime: s.endTime,
    })),
    currentStageId: stage.id,
    variables: Object.assign({}, ...ancestorsOf(unit, stage).map((s) => s.outputs)) as Record<string, unknown>,
  };
}

function ancestorsOf(unit: ExecutionUnit, stage: StageExecutionEntity): StageExecutionEntity[] {
  const found = new Set<string>();
  const pending = [...stage.requisiteStageRefIds];
  while (pending.length > 0) {
    const ref = pending.pop()!;
    if (found.has(ref)) continue;
    found.add(ref);
    pending.push(...(unit.stageByRef(ref)?.requisiteStageRefIds ?? []));
  }
  return unit.stages.filter((s) => found.has(s.refId));
}

/** The stage's config with every expression evaluated, or the error naming each failed expression and its path. */
export function evaluateStageConfig(
  unit: ExecutionUnit,
  stage: StageExecutionEntity,
): { ok: true; context: Record<string, unknown> } | { ok: false; error: ExecutionError } {
  const config = Object.fromEntries(Object.entries(stage.config).filter(([key]) => !STRUCTURAL_KEYS.has(key)));
  if (stage.config['skipExpressionEvaluation'] === true) return { ok: true, context: config };
  const result = evaluateTemplate(config, expressionContextFor(unit, stage));
  if (result.ok) return { ok: true, context: result.value as Record<string, unknown> };
  const first = result.failures[0]!;
  return {
    ok: false,
    error: {
      code: 'EXPRESSION_FAILED',
      message: `expression \${${first.expression}} at ${first.path || '(stage)'} failed: ${first.message}${
        result.failures.length > 1 ? ` (and ${result.failures.length - 1} more)` : ''
      }`,
      details: result.failures.map((f) => ({
        path: f.path || '(stage)',
        message: `\${${f.expression}}: ${f.message}`,
      })),
    },
  };
}

/** Evaluates `stageEnabled`; a stage without it is enabled. A broken expression is an error, never a silent skip. */
export function isStageEnabled(
  unit: ExecutionUnit,
  stage: StageExecutionEntity,
): { ok: true; enabled: boolean } | { ok: false; error: ExecutionError } {
  const condition = stage.config['stageEnabled'] as { expression?: unknown } | undefined;
  if (!condition || typeof condition.expression !== 'string') return { ok: true, enabled: true };
  try {
    const value = evaluateExpression(condition.expression, expressionContextFor(unit, stage));
    if (typeof value === 'boolean') return { ok: true, enabled: value };
    if (value === 'true' || value === 'false') return { ok: true, enabled: value === 'true' };
    return {
      ok: false,
      error: {
        code: 'EXPRESSION_FAILED',
        message: `stageEnabled.expression must give true or false, gave ${JSON.stringify(value)}`,
        details: [{ path: 'stageEnabled.expression', message: `${condition.expression}: not a boolean` }],
      },
    };
  } catch (error) {
    const reason = error instanceof ExpressionError ? error.message : String(error);
    return {
      ok: false,
      error: {
        code: 'EXPRESSION_FAILED',
        message: `stageEnabled.expression ${condition.expression} failed: ${reason}`,
        details: [{ path: 'stageEnabled.expression', message: reason }],
      },
    };
  }
}
