import { type ErrorDetail, ValidationError } from './domain.errors';
import { formatJsonPath } from './json-path';
import {
  COMMON_STAGE_KEYS,
  pipelineSchema,
  stageCommonSchema,
  type PipelineConfig,
  type StageConfig,
} from './pipeline.schema';
import { type StageRegistry } from './stage-definition';
import { zodIssuesToDetails } from './zod-issues';

export interface PipelineValidationOptions {
  readonly registry: StageRegistry;
  readonly maxStages: number;
}

/**
 * Checks a pipeline as a whole: its shape, every stage's config against the schema of its type, and the graph
 * (unique refIds, no dangling requisites, no cycles). Returns the normalised pipeline, or throws a
 * {@link ValidationError} listing every problem with its JSON path.
 */
export function validatePipeline(input: unknown, options: PipelineValidationOptions): PipelineConfig {
  const details: ErrorDetail[] = [];
  const parsed = pipelineSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) details.push(...zodIssuesToDetails(parsed.error.issues));

  const rawStages = parsed.success ? parsed.data.stages : undefined;
  const stages: StageConfig[] = [];
  if (rawStages && rawStages.length > options.maxStages) {
    details.push({ path: 'stages', message: `too many stages: ${rawStages.length} (at most ${options.maxStages})` });
  } else if (rawStages) {
    rawStages.forEach((raw, index) => {
      const stage = validateStage(raw, index, options.registry, details);
      if (stage) stages.push(stage);
    });
    if (stages.length === rawStages.length) details.push(...validateGraph(stages));
  }

  if (details.length > 0 || !parsed.success) {
    throw new ValidationError(
      `pipeline is invalid: ${details.length} problem${details.length === 1 ? '' : 's'}`,
      details,
    );
  }
  return { ...parsed.data, stages };
}

function validateStage(
  raw: Record<string, unknown>,
  index: number,
  registry: StageRegistry,
  details: ErrorDetail[],
): StageConfig | undefined {
  const prefix = ['stages', index];
  const common = stageCommonSchema.safeParse(raw, { reportInput: true });
  if (!common.success) {
    details.push(...zodIssuesToDetails(common.error.issues, prefix));
    return undefined;
  }
  const definition = registry.get(common.data.type);
  if (!definition) {
    details.push({
      path: formatJsonPath([...prefix, 'type']),
      message: `unknown stage type "${common.data.type}" (known: ${registry.types().join(', ')})`,
    });
    return undefined;
  }
  const own = Object.fromEntries(Object.entries(raw).filter(([key]) => !COMMON_STAGE_KEYS.has(key)));
  const config = definition.config.safeParse(own, { reportInput: true });
  if (!config.success) {
    details.push(...zodIssuesToDetails(config.error.issues, prefix));
    return undefined;
  }
  return { ...raw, ...common.data, ...(config.data as Record<string, unknown>) };
}

/** Graph rules of docs/spinnaker.md#common-stage-fields: refIds are the nodes, requisiteStageRefIds the edges. */
export function validateGraph(stages: readonly StageConfig[]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const indexByRef = new Map<string, number>();
  stages.forEach((stage, index) => {
    const ref = String(stage.refId);
    const first = indexByRef.get(ref);
    if (first !== undefined) {
      details.push({
        path: `stages[${index}].refId`,
        message: `duplicate refId "${ref}" (also used by stages[${first}])`,
      });
    } else {
      indexByRef.set(ref, index);
    }
  });
  stages.forEach((stage, index) => {
    const seen = new Set<string>();
    stage.requisiteStageRefIds.forEach((requisite, position) => {
      const ref = String(requisite);
      const path = `stages[${index}].requisiteStageRefIds[${position}]`;
      if (!indexByRef.has(ref)) details.push({ path, message: `no stage has refId "${ref}"` });
      else if (seen.has(ref)) details.push({ path, message: `refId "${ref}" is listed twice` });
      seen.add(ref);
    });
  });
  if (details.length === 0) {
    const cycle = findCycle(stages, indexByRef);
    if (cycle) {
      const start = cycle[0]!;
      details.push({
        path: `stages[${start}].requisiteStageRefIds`,
        message: `cycle: ${cycle.map((i) => `"${String(stages[i]!.refId)}"`).join(' → ')} → "${String(stages[start]!.refId)}"`,
      });
    }
  }
  return details;
}

/** Depth-first search with colours; returns the stage indexes of one cycle, or undefined. Iterative, so deep chains cannot overflow the stack. */
function findCycle(stages: readonly StageConfig[], indexByRef: ReadonlyMap<string, number>): number[] | undefined {
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const colour = new Array<number>(stages.length).fill(WHITE);
  // Built once: recomputing a node's parents at every step of the walk is quadratic in fan-in.
  const parentsOf = stages.map((stage) => stage.requisiteStageRefIds.map((r) => indexByRef.get(String(r))!));
  for (let root = 0; root < stages.length; root++) {
    if (colour[root] !== WHITE) continue;
    const path: number[] = [root];
    const cursors: number[] = [0];
    colour[root] = GREY;
    while (path.length > 0) {
      const node = path[path.length - 1]!;
      const parents = parentsOf[node]!;
      const cursor = cursors[cursors.length - 1]!;
      if (cursor >= parents.length) {
        colour[node] = BLACK;
        path.pop();
        cursors.pop();
        continue;
      }
      cursors[cursors.length - 1] = cursor + 1;
      const next = parents[cursor]!;
      if (colour[next] === GREY) return rotateToSmallest(path.slice(path.indexOf(next)).reverse());
      if (colour[next] === WHITE) {
        colour[next] = GREY;
        path.push(next);
        cursors.push(0);
      }
    }
  }
  return undefined;
}

/** Starts a cycle at its first stage in the pipeline, so the same cycle is always reported the same way. */
function rotateToSmallest(cycle: number[]): number[] {
  const start = cycle.indexOf(Math.min(...cycle));
  return [...cycle.slice(start), ...cycle.slice(0, start)];
}
