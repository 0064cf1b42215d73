/**
 * A JSON object as the engine stores it. Typed as `object` so that the engine's own interfaces fit; what is inside
 * is checked when an expression reads it.
 */
export type JsonObject = object;

/**
 * One stage of the running execution, as `#stage('name')`, `#stageByRefId('ref')`, `#currentStage()` and
 * `#judgment('name')` see it. Expressions read exactly these fields; anything else on the engine's stage is not
 * reachable.
 */
export interface ExpressionStage {
  readonly id: string;
  readonly refId: string;
  readonly name: string;
  readonly type: string;
  /** Spinnaker's status names: `NOT_STARTED`, `RUNNING`, `SUCCEEDED`, `TERMINAL`, ... */
  readonly status: string;
  readonly context: JsonObject;
  readonly outputs: JsonObject;
  readonly startTime?: number | null;
  readonly endTime?: number | null;
}

/**
 * What an expression can see, supplied by the engine as plain data (JSON values only: no class instances,
 * functions or accessors; anything else is refused when an expression reaches it).
 *
 * Names at the root of an expression resolve, in order, to `trigger`, `parameters`, `execution`, then the own
 * properties of `variables`. As in Spinnaker, where the root is the stage context merged with the outputs of
 * upstream stages, the engine can put those in `variables` so that `${ namespace }` works.
 */
export interface ExpressionContext {
  /** The execution's trigger (`trigger.branch`, `trigger['sha']`, `trigger.parameters`). */
  readonly trigger?: JsonObject;
  /** The resolved pipeline parameters (`parameters.tag`, `parameters['image-tag']`). */
  readonly parameters?: JsonObject;
  /** The execution itself (`execution.id`, `execution.application`, `execution.name`). */
  readonly execution?: JsonObject;
  /** Every stage of the execution, in any order; the helpers search it. */
  readonly stages?: readonly ExpressionStage[];
  /** The id of the stage whose values are being evaluated (`#currentStage()`). */
  readonly currentStageId?: string;
  /** Further names visible at the root of an expression. */
  readonly variables?: JsonObject;
}
