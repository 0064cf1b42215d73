import { ApplicationRepository, PipelineRepository } from '@jibe/persistence';
import { type INestApplicationContext } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Pool } from 'pg';

/** Execution statuses from which nothing moves on its own. */
export const FINAL_STATUSES = ['SUCCEEDED', 'TERMINAL', 'CANCELED', 'STOPPED', 'FAILED_CONTINUE'];

let pipelineSeq = 0;

/** Creates the `shop` application (once per database) and a pipeline of `stages` in it; returns the pipeline id. */
export async function createPipeline(
  app: INestApplicationContext,
  stages: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): Promise<string> {
  const applications = app.get(ApplicationRepository);
  await applications.create('shop', { email: null, description: null, attributes: {} }, 'test').catch(() => undefined);
  const id = `p${process.pid}-${++pipelineSeq}`;
  const name = `Pipeline ${id}`;
  await app
    .get(PipelineRepository)
    .create(
      id,
      { application: 'shop', name, config: { application: 'shop', name, stages, limitConcurrent: false, ...extra } },
      'test',
    );
  return id;
}

/** A stage of a pipeline's JSON. */
export function stage(
  refId: string,
  type: string,
  requisites: string[] = [],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { refId, type, name: `${type} ${refId}`, requisiteStageRefIds: requisites, ...extra };
}

/** Polls until `check` returns a value, failing with `describe()` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  describe: () => Promise<string> = () => Promise.resolve(''),
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms. ${await describe()}`);
    await sleep(50);
  }
}

/** Waits until every execution has ended; returns their statuses by id. */
export async function waitForAll(pool: Pool, ids: readonly string[], timeoutMs: number): Promise<Map<string, string>> {
  const statuses = async () => {
    const { rows } = await pool.query<{ id: string; status: string }>(
      'SELECT id, status FROM executions WHERE id = ANY($1)',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.status]));
  };
  return eventually(
    `all ${ids.length} executions end`,
    async () => {
      const current = await statuses();
      return [...current.values()].every((s) => FINAL_STATUSES.includes(s)) && current.size === ids.length
        ? current
        : undefined;
    },
    timeoutMs,
    async () => {
      const current = await statuses();
      const unfinished = [...current].filter(([, s]) => !FINAL_STATUSES.includes(s));
      const { rows } = await pool.query<{ execution_id: string; ref_id: string; status: string; due: string }>(
        `SELECT execution_id, ref_id, status, coalesce(due_message || '#' || due_seq || '@' || due_at, '-') AS due
           FROM execution_stages WHERE execution_id = ANY($1) ORDER BY execution_id, position`,
        [unfinished.slice(0, 3).map(([id]) => id)],
      );
      return `${unfinished.length} still running, e.g. ${JSON.stringify(rows)}`;
    },
  );
}

/** Effect rows and task runs of the `effect` stage, per stage id. */
export async function effectsByStage(pool: Pool): Promise<{ effects: Map<string, string>; runs: Map<string, number> }> {
  const effects = await pool.query<{ stage_id: string; worker: string }>('SELECT stage_id, worker FROM test_effects');
  const runs = await pool.query<{ stage_id: string; runs: string }>(
    'SELECT stage_id, count(*) AS runs FROM test_effect_runs GROUP BY stage_id',
  );
  return {
    effects: new Map(effects.rows.map((r) => [r.stage_id, r.worker])),
    runs: new Map(runs.rows.map((r) => [r.stage_id, Number(r.runs)])),
  };
}

/** The p-th percentile (0–100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
