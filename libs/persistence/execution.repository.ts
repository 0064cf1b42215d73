import { type ExecutionError, NotFoundError, type TaskState } from '@jibe/domain';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { ExecutionEntity } from './execution.entity';
import { decodeCursor, encodeCursor, type Page } from './paging';
import { StageExecutionEntity } from './stage-execution.entity';

/** The Postgres channel that carries `{ id, status }` of every execution change (the SSE endpoint listens). */
export const EXECUTION_CHANNEL = 'jibe_execution_events';

export interface ExecutionListQuery {
  readonly pipelineId?: string;
  readonly application?: string;
  readonly statuses?: readonly string[];
  readonly limit: number;
  readonly cursor?: string;
}

/** A row waiting for a queue message, as the sweeper finds it. */
export interface DueRow {
  readonly executionId: string;
  readonly stageId: string | null;
  readonly dueMessage: string;
  readonly dueSeq: number;
}

/**
 * Executions and their stages. The engine reads and writes them only inside {@link ExecutionRepository.locked},
 * which holds the execution's row lock for the whole transaction: one handler at a time per execution.
 */
@Injectable()
export class ExecutionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Runs `work` in a transaction holding the execution's row lock, with its stages loaded, then writes back what
   * `work` marked dirty and notifies listeners. Returns undefined when the execution does not exist.
   */
  async locked<T>(
    executionId: string,
    work: (execution: ExecutionEntity, stages: StageExecutionEntity[], manager: EntityManager) => Promise<T>,
    options: { pipelineSlotLock?: string } = {},
  ): Promise<T | undefined> {
    return this.dataSource.transaction(async (manager) => {
      // Concurrency slots are counted per pipeline under an advisory lock taken BEFORE any row lock, the same
      // order everywhere, so two executions of one pipeline can never deadlock each other.
      if (options.pipelineSlotLock) await this.lockPipelineSlots(manager, options.pipelineSlotLock);
      // Raw SQL and hand-written mapping: this runs for every queue message, and TypeORM's entity hydration of all
      // the stage rows was the largest cost of a message. Two statements, not one: in READ COMMITTED the stages must
      // be read by a statement that starts after the lock is held, or they could predate the last holder's commit.
      const [row] = await manager.query<ExecutionRow[]>('SELECT * FROM executions WHERE id = $1 FOR UPDATE', [
        executionId,
      ]);
      if (!row) return undefined;
      const stageRows = await manager.query<StageRow[]>(
        'SELECT * FROM execution_stages WHERE execution_id = $1 ORDER BY position',
        [executionId],
      );
      return work(executionFromRow(row), stageRows.map(stageFromRow), manager);
    });
  }

  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** The manager outside any transaction, for reads that need no lock. */
  manager(): EntityManager {
    return this.dataSource.manager;
  }

  async lockPipelineSlots(manager: EntityManager, pipelineId: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext('jibe:pipeline:' || $1))`, [pipelineId]);
  }

  async insert(manager: EntityManager, execution: ExecutionEntity, stages: StageExecutionEntity[]): Promise<void> {
    await manager.query(
      `INSERT INTO executions (id, application, pipeline_id, pipeline_version, name, status, trigger, pipeline_config,
         waiting, canceled, paused_ms, parent_execution_id, parent_stage_id, build_time, due_message, due_seq, due_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, false, 0, $9, $10, $11, $12, $13, $14)`,
      [
        execution.id,
        execution.application,
        execution.pipelineId,
        execution.pipelineVersion,
        execution.name,
        execution.status,
        JSON.stringify(execution.trigger),
        JSON.stringify(execution.pipelineConfig),
        execution.parentExecutionId,
        execution.parentStageId,
        execution.buildTime,
        execution.dueMessage,
        execution.dueSeq,
        execution.dueAt,
      ],
    );
    if (stages.length === 0) return;
    const columns = 11;
    const values: unknown[] = [];
    const rows = stages.map((s, i) => {
      values.push(
        s.id,
        s.executionId,
        s.position,
        s.refId,
        s.type,
        s.name,
        JSON.stringify(s.requisiteStageRefIds),
        JSON.stringify(s.config),
        s.status,
        JSON.stringify(s.tasks),
        s.dueSeq,
      );
      const base = i * columns;
      return `(${Array.from({ length: columns }, (_, c) => `$${base + c + 1}`).join(', ')}, '{}', '{}')`;
    });
    await manager.query(
      `INSERT INTO execution_stages (id, execution_id, position, ref_id, type, name, requisite_stage_ref_ids, config,
         status, tasks, due_seq, context, outputs) VALUES ${rows.join(', ')}`,
      values,
    );
  }

  /**
   * Writes what one transition changed in a single statement: the execution row (when `executionChanged`), every
   * changed stage, and the NOTIFY of the change. One round trip, whatever the number of rows.
   */
  async saveChanges(
    manager: EntityManager,
    execution: ExecutionEntity,
    executionChanged: boolean,
    stages: readonly StageExecutionEntity[],
  ): Promise<void> {
    const params: unknown[] = [EXECUTION_CHANNEL, JSON.stringify({ id: execution.id, status: execution.status })];
    const updates: string[] = [];
    if (executionChanged) {
      const e = execution;
      const at = params.length;
      params.push(
        e.id,
        e.status,
        e.waiting,
        e.canceled,
        e.canceledBy,
        e.cancellationReason,
        e.pausedAt,
        e.pausedMs,
        e.startTime,
        e.endTime,
        e.dueMessage,
        e.dueSeq,
        e.dueAt,
      );
      const p = (i: number) => `$${at + i}`;
      updates.push(
        `e AS (UPDATE executions SET status = ${p(2)}, waiting = ${p(3)}, canceled = ${p(4)}, canceled_by = ${p(5)},
           cancellation_reason = ${p(6)}, paused_at = ${p(7)}, paused_ms = ${p(8)}, start_time = ${p(9)},
           end_time = ${p(10)}, due_message = ${p(11)}, due_seq = ${p(12)}, due_at = ${p(13)}
         WHERE id = ${p(1)} RETURNING 1)`,
      );
    }
    if (stages.length > 0) {
      params.push(
        JSON.stringify(
          stages.map((s) => ({
            id: s.id,
            status: s.status,
            context: s.context,
            outputs: s.outputs,
            tasks: s.tasks,
            error: s.error,
            start_time: s.startTime,
            end_time: s.endTime,
            paused_ms_at_start: s.pausedMsAtStart,
            due_message: s.dueMessage,
            due_seq: s.dueSeq,
            due_at: s.dueAt,
          })),
        ),
      );
      updates.push(
        `s AS (UPDATE execution_stages AS t SET status = v.status, context = v.context, outputs = v.outputs,
           tasks = v.tasks, error = v.error, start_time = v.start_time, end_time = v.end_time,
           paused_ms_at_start = v.paused_ms_at_start, due_message = v.due_message, due_seq = v.due_seq,
           due_at = v.due_at
         FROM jsonb_to_recordset($${params.length}::jsonb) AS v(id text, status text, context jsonb, outputs jsonb,
           tasks jsonb, error jsonb, start_time bigint, end_time bigint, paused_ms_at_start bigint, due_message text,
           due_seq integer, due_at bigint)
         WHERE t.id = v.id RETURNING 1)`,
      );
    }
    // Data-modifying WITH clauses run whether or not the final SELECT reads them.
    await manager.query(`${updates.length > 0 ? `WITH ${updates.join(', ')} ` : ''}SELECT pg_notify($1, $2)`, params);
  }

  async notify(manager: EntityManager, execution: ExecutionEntity): Promise<void> {
    await manager.query('SELECT pg_notify($1, $2)', [
      EXECUTION_CHANNEL,
      JSON.stringify({ id: execution.id, status: execution.status }),
    ]);
  }

  async get(id: string): Promise<{ execution: ExecutionEntity; stages: StageExecutionEntity[] }> {
    const execution = await this.dataSource.manager.findOneBy(ExecutionEntity, { id });
    if (!execution) throw new NotFoundError(`no execution with id "${id}"`);
    const stages = await this.dataSource.manager.find(StageExecutionEntity, {
      where: { executionId: id },
      order: { position: 'ASC' },
    });
    return { execution, stages };
  }

  async status(manager: EntityManager, id: string): Promise<string | undefined> {
    const rows = await manager.query<{ status: string }[]>('SELECT status FROM executions WHERE id = $1', [id]);
    return rows[0]?.status;
  }

  /** Newest first, keyed by (build_time, id). */
  async list(query: ExecutionListQuery): Promise<Page<ExecutionEntity>> {
    const builder = this.dataSource.manager
      .createQueryBuilder(ExecutionEntity, 'e')
      .orderBy('e.build_time', 'DESC')
      .addOrderBy('e.id', 'DESC')
      .limit(query.limit + 1);
    if (query.pipelineId) builder.andWhere('e.pipeline_id = :pipelineId', { pipelineId: query.pipelineId });
    if (query.application) builder.andWhere('e.application = :application', { application: query.application });
    if (query.statuses && query.statuses.length > 0)
      builder.andWhere('e.status IN (:...statuses)', { statuses: query.statuses });
    if (query.cursor) {
      const [buildTime, id] = decodeCursor(query.cursor, 2);
      builder.andWhere('(e.build_time, e.id) < (:buildTime, :id)', { buildTime: Number(buildTime), id: String(id) });
    }
    const rows = await builder.getMany();
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return rows.length > query.limit && last
      ? { items, nextCursor: encodeCursor([last.buildTime, last.id]) }
      : { items };
  }

  async stagesOf(executionIds: readonly string[]): Promise<StageExecutionEntity[]> {
    if (executionIds.length === 0) return [];
    return this.dataSource.manager
      .createQueryBuilder(StageExecutionEntity, 's')
      .where('s.execution_id IN (:...ids)', { ids: executionIds })
      .orderBy('s.position', 'ASC')
      .getMany();
  }

  /** Counts executions of a pipeline that hold a concurrency slot (call under {@link lockPipelineSlots}). */
  async countRunning(manager: EntityManager, pipelineId: string): Promise<number> {
    const rows = await manager.query<{ count: string }[]>(
      `SELECT count(*) FROM executions WHERE pipeline_id = $1 AND status IN ('RUNNING', 'PAUSED')`,
      [pipelineId],
    );
    return Number(rows[0]?.count ?? 0);
  }

  async waitingOf(
    manager: EntityManager,
    pipelineId: string,
  ): Promise<{ id: string; buildTime: number; dueSeq: number }[]> {
    const rows = await manager.query<{ id: string; build_time: string; due_seq: number }[]>(
      `SELECT id, build_time, due_seq FROM executions WHERE pipeline_id = $1 AND waiting AND status = 'NOT_STARTED'
       ORDER BY build_time, id`,
      [pipelineId],
    );
    return rows.map((r) => ({ id: r.id, buildTime: Number(r.build_time), dueSeq: r.due_seq }));
  }

  /** Extends a running task's lease, if it is still this holder's (same sequence number). */
  async renewLease(stageId: string, seq: number, until: number): Promise<boolean> {
    const [, updated] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE execution_stages SET due_at = $3 WHERE id = $1 AND due_seq = $2 AND due_message = 'RunTask'`,
      [stageId, seq, until],
    );
    return updated > 0;
  }

  async pipelineIdOf(executionId: string): Promise<string | null> {
    const rows = await this.dataSource.query<{ pipeline_id: string | null }[]>(
      'SELECT pipeline_id FROM executions WHERE id = $1',
      [executionId],
    );
    return rows[0]?.pipeline_id ?? null;
  }

  /** Cancels executions that wait for a slot (they have no started stage, so nothing else needs undoing). */
  async cancelWaiting(manager: EntityManager, ids: readonly string[], now: number, reason: string): Promise<void> {
    if (ids.length === 0) return;
    // TypeORM answers UPDATE and DELETE with [rows, rowCount].
    const [rows] = await manager.query<[{ id: string }[], number]>(
      `UPDATE executions SET status = 'CANCELED', canceled = true, canceled_by = 'jibe', cancellation_reason = $2,
         waiting = false, end_time = $3, due_message = NULL, due_at = NULL
       WHERE id = ANY($1) AND waiting AND status = 'NOT_STARTED' RETURNING id`,
      [ids, reason, now],
    );
    for (const row of rows) {
      await manager.query('SELECT pg_notify($1, $2)', [
        EXECUTION_CHANNEL,
        JSON.stringify({ id: row.id, status: 'CANCELED' }),
      ]);
    }
  }

  /** Rows whose message is overdue by more than `graceMs`: its queue message was lost (or never sent). */
  async overdue(now: number, graceMs: number, limit: number): Promise<DueRow[]> {
    const rows = await this.dataSource.query<
      { execution_id: string; stage_id: string | null; due_message: string; due_seq: number }[]
    >(
      `(SELECT e.id AS execution_id, NULL AS stage_id, e.due_message, e.due_seq FROM executions e
         WHERE e.due_message IS NOT NULL AND e.due_at < $1 AND e.status <> 'PAUSED' ORDER BY e.due_at LIMIT $2)
       UNION ALL
       (SELECT s.execution_id, s.id, s.due_message, s.due_seq FROM execution_stages s
         JOIN executions e ON e.id = s.execution_id
         WHERE s.due_message IS NOT NULL AND s.due_at < $1 AND e.status = 'RUNNING' ORDER BY s.due_at LIMIT $2)`,
      [now - graceMs, limit],
    );
    return rows.map((r) => ({
      executionId: r.execution_id,
      stageId: r.stage_id,
      dueMessage: r.due_message,
      dueSeq: r.due_seq,
    }));
  }

  /**
   * Pipelines with executions waiting for a slot while fewer of theirs run than their limit allows: their wake-up was
   * lost (or raced a finishing execution), so the sweeper sends it again.
   */
  async stalledWaitingPipelines(limit: number): Promise<string[]> {
    const rows = await this.dataSource.query<{ pipeline_id: string }[]>(
      `SELECT DISTINCT w.pipeline_id FROM executions w
        WHERE w.waiting AND w.status = 'NOT_STARTED' AND w.pipeline_id IS NOT NULL
          AND (SELECT count(*) FROM executions r WHERE r.pipeline_id = w.pipeline_id AND r.status IN ('RUNNING', 'PAUSED'))
            < CASE WHEN coalesce((w.pipeline_config->>'maxConcurrentExecutions')::int, 0) > 0
                     THEN (w.pipeline_config->>'maxConcurrentExecutions')::int
                   WHEN w.pipeline_config->>'limitConcurrent' = 'false' THEN 2147483647
                   ELSE 1 END
        LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.pipeline_id);
  }

  /**
   * Deletes up to `batchSize` finished executions that started before `before`, keeping the newest `keepPerPipeline`
   * of each pipeline. Returns how many were deleted; callers loop until it is 0.
   */
  async deleteOld(before: number, keepPerPipeline: number, batchSize: number): Promise<number> {
    const [, deleted] = await this.dataSource.query<[unknown[], number]>(
      `WITH ranked AS (
         SELECT id, build_time, status,
                row_number() OVER (PARTITION BY coalesce(pipeline_id, id) ORDER BY build_time DESC) AS rank
           FROM executions
       )
       DELETE FROM executions WHERE id IN (
         SELECT id FROM ranked
          WHERE build_time < $1 AND rank > $2
            AND status IN ('SUCCEEDED', 'TERMINAL', 'CANCELED', 'STOPPED', 'FAILED_CONTINUE', 'SKIPPED')
          LIMIT $3)
       RETURNING id`,
      [before, keepPerPipeline, batchSize],
    );
    return deleted;
  }
}

interface ExecutionRow {
  id: string;
  application: string;
  pipeline_id: string | null;
  pipeline_version: number | null;
  name: string;
  status: string;
  trigger: Record<string, unknown>;
  pipeline_config: Record<string, unknown>;
  waiting: boolean;
  canceled: boolean;
  canceled_by: string | null;
  cancellation_reason: string | null;
  paused_at: string | null;
  paused_ms: string;
  parent_execution_id: string | null;
  parent_stage_id: string | null;
  build_time: string;
  start_time: string | null;
  end_time: string | null;
  due_message: string | null;
  due_seq: number;
  due_at: string | null;
}

interface StageRow {
  id: string;
  execution_id: string;
  position: number;
  ref_id: string;
  type: string;
  name: string;
  requisite_stage_ref_ids: string[];
  config: Record<string, unknown>;
  status: string;
  context: Record<string, unknown>;
  outputs: Record<string, unknown>;
  tasks: TaskState[];
  error: ExecutionError | null;
  start_time: string | null;
  paused_ms_at_start: string;
  end_time: string | null;
  due_message: string | null;
  due_seq: number;
  due_at: string | null;
}

/** bigint columns arrive as strings from pg. */
function ms(value: string | null): number | null {
  return value === null ? null : Number(value);
}

function executionFromRow(r: ExecutionRow): ExecutionEntity {
  const e = new ExecutionEntity();
  e.id = r.id;
  e.application = r.application;
  e.pipelineId = r.pipeline_id;
  e.pipelineVersion = r.pipeline_version;
  e.name = r.name;
  e.status = r.status;
  e.trigger = r.trigger;
  e.pipelineConfig = r.pipeline_config;
  e.waiting = r.waiting;
  e.canceled = r.canceled;
  e.canceledBy = r.canceled_by;
  e.cancellationReason = r.cancellation_reason;
  e.pausedAt = ms(r.paused_at);
  e.pausedMs = Number(r.paused_ms);
  e.parentExecutionId = r.parent_execution_id;
  e.parentStageId = r.parent_stage_id;
  e.buildTime = Number(r.build_time);
  e.startTime = ms(r.start_time);
  e.endTime = ms(r.end_time);
  e.dueMessage = r.due_message;
  e.dueSeq = r.due_seq;
  e.dueAt = ms(r.due_at);
  return e;
}

function stageFromRow(r: StageRow): StageExecutionEntity {
  const s = new StageExecutionEntity();
  s.id = r.id;
  s.executionId = r.execution_id;
  s.position = r.position;
  s.refId = r.ref_id;
  s.type = r.type;
  s.name = r.name;
  s.requisiteStageRefIds = r.requisite_stage_ref_ids;
  s.config = r.config;
  s.status = r.status;
  s.context = r.context;
  s.outputs = r.outputs;
  s.tasks = r.tasks;
  s.error = r.error;
  s.startTime = ms(r.start_time);
  s.pausedMsAtStart = Number(r.paused_ms_at_start);
  s.endTime = ms(r.end_time);
  s.dueMessage = r.due_message;
  s.dueSeq = r.due_seq;
  s.dueAt = ms(r.due_at);
  return s;
}
