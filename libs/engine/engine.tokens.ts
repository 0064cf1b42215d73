import { type PortToken } from '@jibe/domain';
import { type EntityManager } from 'typeorm';
import { type ExecutionUnit } from './execution-unit';

/** DI token of the StageRegistry the engine runs (tests add stage types of their own). */
export const STAGE_REGISTRY = Symbol('STAGE_REGISTRY');

/** Builds a port's implementation for one task run, inside the transaction of the unit it runs in. */
export interface PortBinding<T = unknown> {
  readonly token: PortToken<T>;
  create(scope: { manager: EntityManager | undefined; unit: ExecutionUnit }): T;
}

/** DI token of the list of {@link PortBinding}s. */
export const PORT_BINDINGS = Symbol('PORT_BINDINGS');

/** Engine tuning, from the config file (`engine:`). */
export interface EngineSettings {
  /** How long a worker may hold a task that runs outside the transaction before another may take it over. */
  readonly taskLeaseMs: number;
  /** A due message still unprocessed this long after it was due is considered lost and sent again. */
  readonly sweepGraceMs: number;
  readonly sweepIntervalMs: number;
  /** Messages processed at once by one worker process. */
  readonly concurrency: number;
  /** Retries of a task that failed with a transient error, and the first backoff (doubling each time). */
  readonly maxTransientRetries: number;
  readonly retryBackoffMs: number;
  /**
   * BullMQ's lock on a message being handled, renewed every half of it while the worker lives. A worker killed
   * mid-message leaves it locked this long; the message is then handed out again by the stall check, which runs every
   * `stalledIntervalMs`. Until then the sweeper cannot resend it (its deterministic job id still exists).
   */
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
}

export const ENGINE_SETTINGS = Symbol('ENGINE_SETTINGS');

export const DEFAULT_ENGINE_SETTINGS: EngineSettings = {
  taskLeaseMs: 5 * 60_000,
  sweepGraceMs: 5_000,
  sweepIntervalMs: 2_000,
  concurrency: 32,
  maxTransientRetries: 5,
  retryBackoffMs: 500,
  lockDurationMs: 10_000,
  stalledIntervalMs: 5_000,
};
