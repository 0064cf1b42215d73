import { z } from 'zod';
import { type TaskDefinition } from './task';

/**
 * What every stage type declares: its Spinnaker type name and the zod schema of its own config keys (the keys
 * besides the common ones every stage has). Later capabilities extend a definition with its tasks.
 */
export interface StageDefinition<Config extends z.ZodType = z.ZodType> {
  readonly type: string;
  /** One line for people: shown in errors, docs and the UI. */
  readonly description: string;
  readonly config: Config;
  /** The stage's tasks, run in order; a stage succeeds when its last task does. */
  readonly tasks: readonly TaskDefinition[];
}

/** Declares a stage type; the identity function exists so the config type is inferred once, at the definition. */
export function defineStage<Config extends z.ZodType>(definition: StageDefinition<Config>): StageDefinition<Config> {
  return definition;
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
