import { defineStage, type StageDefinition, type TaskContext, type TaskResult } from '@jibe/domain';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Pool } from 'pg';
import { z } from 'zod';

/**
 * Tables the `effect` stage writes, created by each test in its own database. `test_effect_runs` has one row per
 * run (attempt) of the task, `test_effects` one row per effect it had: nothing is keyed to swallow a second effect,
 * so two runs at once, or a run after the result was recorded, leave two rows. The stage's outputs name the run
 * whose result the engine applied (`effectRun`), which tells the committed effect from those of runs that died.
 */
export const EFFECT_TABLES_DDL = `
  CREATE TABLE IF NOT EXISTS test_effect_runs (
    id bigserial PRIMARY KEY, stage_id text NOT NULL, worker text NOT NULL, pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp());
  CREATE TABLE IF NOT EXISTS test_effects (
    id bigserial PRIMARY KEY, run_id bigint NOT NULL REFERENCES test_effect_runs (id), stage_id text NOT NULL,
    execution_id text NOT NULL, ref_id text NOT NULL, worker text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp())`;

/**
 * A test-only stage with one NON-inline task: it runs between two engine transactions under a lease, like a task
 * that calls a cluster. It records its run, waits `effectMs` (so a kill can land mid-task), records its effect, and
 * answers with the run's id. `worker` names the engine instance in the rows, to see which one did the work.
 */
export function effectStage(pool: Pool, worker: string): StageDefinition {
  return defineStage({
    type: 'effect',
    description: 'Test only: records each run and each effect, outside the engine transaction.',
    config: z.looseObject({ effectMs: z.number().int().min(0).optional() }),
    tasks: [
      {
        name: 'recordEffect',
        run: async (context: TaskContext): Promise<TaskResult> => {
          const stage = context.stage;
          const run = await pool.query<{ id: string }>(
            'INSERT INTO test_effect_runs (stage_id, worker, pid) VALUES ($1, $2, $3) RETURNING id',
            [stage.id, worker, process.pid],
          );
          const runId = run.rows[0]!.id;
          const effectMs = Number(stage.context['effectMs'] ?? 0);
          if (effectMs > 0) await sleep(effectMs);
          await pool.query(
            'INSERT INTO test_effects (run_id, stage_id, execution_id, ref_id, worker) VALUES ($1, $2, $3, $4, $5)',
            [runId, stage.id, context.execution.id, stage.refId, worker],
          );
          return { status: 'SUCCEEDED', outputs: { effectBy: worker, effectRun: runId } };
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
