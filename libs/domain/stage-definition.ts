import { z } from 'zod';
import { type TaskContext, type TaskDefinition, type TaskResult } from './task';
import { zodIssuesToDetails } from './zod-issues';

/**
 * What the engine knows of a stage type: its Spinnaker type name, the zod schema of its own config keys (the keys
 * besides the common ones every stage has) and its tasks. Made by {@link defineStage}, whose tasks are typed; here
 * they are the engine's untyped view of the same tasks, which check the stage's context before running.
 */
export interface StageDefinition<Config extends z.ZodType = z.ZodType> {
  readonly type: string;
  /** One line for people: shown in errors, docs and the UI. */
  readonly description: string;
  readonly config: Config;
  /** What the stage's tasks keep in its context between runs (see {@link StageSpec.state}). */
  readonly state?: z.ZodObject;
  /** What the stage puts in its outputs (see {@link StageSpec.outputs}). */
  readonly outputs?: z.ZodObject;
  /** The stage's tasks, run in order; a stage succeeds when its last task does. */
  readonly tasks: readonly TaskDefinition[];
}

/** The state or outputs of a stage that does not declare them: any key, of any value. */
type Undeclared = z.ZodObject<Record<never, never>, z.core.$loose>;

/** What a stage's tasks read in its context: its config as the schema parsed it, and whatever state is written yet. */
export type StageContext<Config extends z.ZodType, State extends z.ZodObject> = z.output<Config> &
  Partial<z.output<State>>;

/**
 * The types of a stage's tasks, from its schemas: what they read in the stage context (`context`), what they may
 * write there (`writes`) and put in the outputs (`outputs`). A stage names them once,
 * `type Scale = StageTypes<typeof config, typeof state, typeof outputs>`, for the task helpers that take them
 * (`clusterTask<Scale>(…)`); tasks written inline in `defineStage` are typed without it.
 */
export interface StageTypes<
  Config extends z.ZodType,
  State extends z.ZodObject = Undeclared,
  Outputs extends z.ZodObject = Undeclared,
> {
  readonly context: StageContext<Config, State>;
  readonly writes: Partial<z.input<State>>;
  readonly outputs: Partial<z.input<Outputs>>;
}

/** Any {@link StageTypes}; task helpers take one as their type parameter. */
export interface TaskTypes {
  readonly context: object;
  readonly writes: object;
  readonly outputs: object;
}

/** The engine's untyped view, which tasks written for no stage in particular use. */
export interface UntypedTask extends TaskTypes {
  readonly context: Record<string, unknown>;
  readonly writes: Record<string, unknown>;
  readonly outputs: Record<string, unknown>;
}

/** A task typed by {@link TaskTypes}. */
export type TypedTask<T extends TaskTypes> = TaskDefinition<T['context'], T['writes'], T['outputs']>;

/** A task of a stage declared with these schemas: it reads its context typed and writes only declared state. */
export type StageTask<
  Config extends z.ZodType,
  State extends z.ZodObject = Undeclared,
  Outputs extends z.ZodObject = Undeclared,
> = TypedTask<StageTypes<Config, State, Outputs>>;

/** A stage type as its folder declares it; {@link defineStage} turns it into the engine's {@link StageDefinition}. */
export interface StageSpec<Config extends z.ZodType, State extends z.ZodObject, Outputs extends z.ZodObject> {
  readonly type: string;
  /** One line for people: shown in errors, docs and the UI. */
  readonly description: string;
  /** The stage's own config keys; checked when a pipeline is saved and again, expressions evaluated, before each task. */
  readonly config: Config;
  /**
   * The keys tasks write in the stage context for later runs and later tasks (e.g. what a first task decided, so a
   * re-run does not decide again). Every key is optional (it is absent until written) and checked before each task
   * runs. A `z.looseObject` lets tasks also write keys made at run time (a wait's bookkeeping, one key per wave).
   */
  readonly state?: State;
  /** The stage's outputs, as other stages' `${ }` and people read them; a `z.looseObject` allows keys made at run time. */
  readonly outputs?: Outputs;
  /** The stage's tasks, run in order; a stage succeeds when its last task does. */
  readonly tasks: readonly StageTask<Config, State, Outputs>[];
}

/**
 * Declares a stage type. Each task is given its stage's context typed: before it runs, the context is parsed with
 * the config schema (a value an expression made wrong fails the stage with INVALID_CONFIG, naming its path) and the
 * state schema, so what a task reads is what the types say. The result is what the engine's registry holds.
 */
export function defineStage<
  Config extends z.ZodType,
  State extends z.ZodObject = Undeclared,
  Outputs extends z.ZodObject = Undeclared,
>(spec: StageSpec<Config, State, Outputs>): StageDefinition<Config> {
  const state = spec.state?.partial();
  const checked = (task: StageTask<Config, State, Outputs>): TaskDefinition => ({
    name: task.name,
    ...(task.inline !== undefined ? { inline: task.inline } : {}),
    ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
    run: (context) => {
      const read = readStageContext<Config, State>(context, spec.config, state);
      return read.ok ? task.run(read.context) : Promise.resolve(read.failure);
    },
  });
  return {
    type: spec.type,
    description: spec.description,
    config: spec.config,
    ...(spec.state ? { state: spec.state } : {}),
    ...(spec.outputs ? { outputs: spec.outputs } : {}),
    tasks: spec.tasks.map(checked),
  };
}

/**
 * The task's context with its stage context parsed: the config and state as their schemas give them, laid over
 * what else the context holds (keys the schemas do not name, such as the engine's own, stay readable as before).
 */
function readStageContext<Config extends z.ZodType, State extends z.ZodObject>(
  context: TaskContext,
  config: Config,
  state: z.ZodType | undefined,
): { ok: true; context: TaskContext<StageContext<Config, State>> } | { ok: false; failure: TaskResult } {
  const raw = context.stage.context;
  const parsedConfig = config.safeParse(raw);
  if (!parsedConfig.success)
    return { ok: false, failure: refused('invalid stage config', 'INVALID_CONFIG', parsedConfig.error) };
  const parsedState = state?.safeParse(raw);
  if (parsedState && !parsedState.success) {
    return { ok: false, failure: refused('unreadable stage state', 'INVALID_STATE', parsedState.error) };
  }
  // The one cast: zod's types cannot show, for a generic State, that what `State.partial()` parsed is a
  // `Partial<z.output<State>>`; zod defines partial() to be exactly that, and the parse has just checked it.
  const stageContext = Object.assign({}, raw, parsedConfig.data, parsedState?.data) as StageContext<Config, State>;
  return {
    ok: true,
    context: {
      execution: context.execution,
      stage: { ...context.stage, context: stageContext },
      stages: context.stages,
      now: context.now,
      port: (token) => context.port(token),
    },
  };
}

function refused(what: string, code: string, error: z.ZodError): TaskResult {
  const details = zodIssuesToDetails(error.issues);
  return {
    status: 'TERMINAL',
    error: { message: `${what}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, code, details },
  };
}

/** Matches a string that holds at least one `${ … }` expression, to be evaluated when the stage starts. */
export const EXPRESSION = /\$\{[\s\S]*\}/;

/** A value of `schema`, or a string holding an expression that will produce one when the stage starts. */
export function orExpression<T extends z.ZodType>(schema: T) {
  return z.union([schema, z.string().regex(EXPRESSION, 'expected a ${ } expression')]);
}

/**
 * The stage types Jibe knows. Built once from a list; refuses duplicates so two folders can never claim one type.
 */
export class StageRegistry {
  private readonly byType = new Map<string, StageDefinition>();

  constructor(definitions: readonly StageDefinition[]) {
    for (const definition of definitions) {
      if (this.byType.has(definition.type)) throw new Error(`stage type "${definition.type}" is registered twice`);
      this.byType.set(definition.type, definition);
    }
  }

  get(type: string): StageDefinition | undefined {
    return this.byType.get(type);
  }

  /** The definition of a type the registry must know (the pipeline was validated against it). */
  require(type: string): StageDefinition {
    const definition = this.byType.get(type);
    if (!definition) throw new Error(`stage type "${type}" is not registered`);
    return definition;
  }

  /** A registry with these definitions added (tests add stage types of their own). */
  with(definitions: readonly StageDefinition[]): StageRegistry {
    return new StageRegistry([...this.byType.values(), ...definitions]);
  }

  types(): string[] {
    return [...this.byType.keys()].sort();
  }
}
