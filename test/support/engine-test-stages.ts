import { defineStage, type StageDefinition, type TaskContext, type TaskResult } from '@jibe/domain';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Pool } from 'pg';
import { z } from 'zod';

/**
 * Tables the `effect` stage writes, created by each test in its own database: one row per stage that took effect
 * (the effect is idempotent, keyed by stage id), and one row per run of the task (how often it really ran).
 */
export const EFFECT_TABLES_DDL = `
  CREATE TABLE IF NOT EXISTS test_effects (
    stage_id text PRIMARY KEY, execution_id text NOT NULL, ref_id text NOT NULL, worker text NOT NULL);
  CREATE TABLE IF NOT EXISTS test_effect_runs (
    id bigserial PRIMARY KEY, stage_id text NOT NULL, worker text NOT NULL, pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp())`;

/**
 * A test-only stage with one NON-inline task: it runs between two engine transactions under a lease, like a task
 * that calls a cluster. It logs every run, waits `effectMs` (so a kill can land mid-task), then records its effect
 * idempotently. `worker` names the engine instance in the rows, to see which one did the work.
 */
export function effectStage(pool: Pool, worker: string): StageDefinition {
  return defineStage({
    type: 'effect',
    description: 'Test only: records an idempotent effect keyed by stage id, outside the engine transaction.',
    config: z.looseObject({ effectMs: z.number().int().min(0).optional() }),
    tasks: [
      {
        name: 'recordEffect',
        run: async (context: TaskContext): Promise<TaskResult> => {
          const stage = context.stage;
          await pool.query('INSERT INTO test_effect_runs (stage_id, worker, pid) VALUES ($1, $2, $3)', [
            stage.id,
            worker,
            process.pid,
          ]);
          const effectMs = Number(stage.context['effectMs'] ?? 0);
          if (effectMs > 0) await sleep(effectMs);
          await pool.query(
            `INSERT INTO test_effects (stage_id, execution_id, ref_id, worker) VALUES ($1, $2, $3, $4)
             ON CONFLICT (stage_id) DO NOTHING`,
            [stage.id, context.execution.id, stage.refId, worker],
          );
          return { status: 'SUCCEEDED', outputs: { effectBy: worker } };
        },
      },
    ],
  });
}

/** A test-only stage whose one inline task does nothing: what the engine costs per stage, and nothing else. */
export const noopStage: StageDefinition = defineStage({
  type: 'noop',
  description: 'Test only: an inline task that succeeds at once.',
  config: z.looseObject({}),
  tasks: [{ name: 'noop', inline: true, run: () => Promise.resolve({ status: 'SUCCEEDED' }) }],
});
