import { NotFoundError } from '@jibe/domain';
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
      const execution = await manager
        .createQueryBuilder(ExecutionEntity, 'e')
        .setLock('pessimistic_write')
        .where('e.id = :executionId', { executionId })
        .getOne();
      if (!execution) return undefined;
      const stages = await manager.find(StageExecutionEntity, { where: { executionId }, order: { position: 'ASC' } });
      return work(execution, stages, manager);
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

  async saveExecution(manager: EntityManager, e: ExecutionEntity): Promise<void> {
    await manager.query(
      `UPDATE executions SET status = $2, waiting = $3, canceled = $4, canceled_by = $5, cancellation_reason = $6,
         paused_at = $7, paused_ms = $8, start_time = $9, end_time = $10, due_message = $11, due_seq = $12,
         due_at = $13 WHERE id = $1`,
      [
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
      ],
    );
  }

  async saveStage(manager: EntityManager, s: StageExecutionEntity): Promise<void> {
    await manager.query(
      `UPDATE execution_stages SET status = $2, context = $3, outputs = $4, tasks = $5, error = $6, start_time = $7,
         end_time = $8, paused_ms_at_start = $9, due_message = $10, due_seq = $11, due_at = $12 WHERE id = $1`,
      [
        s.id,
        s.status,
        JSON.stringify(s.context),
        JSON.stringify(s.outputs),
        JSON.stringify(s.tasks),
        s.error === null ? null : JSON.stringify(s.error),
        s.startTime,
        s.endTime,
        s.pausedMsAtStart,
        s.dueMessage,
        s.dueSeq,
        s.dueAt,
      ],
    );
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
         WHERE e.due_message IS NOT NULL AND e.due_at < $1 AND e.status <> 'PAUSED' LIMIT $2)
       UNION ALL
       (SELECT s.execution_id, s.id, s.due_message, s.due_seq FROM execution_stages s
         JOIN executions e ON e.id = s.execution_id
         WHERE s.due_message IS NOT NULL AND s.due_at < $1 AND e.status = 'RUNNING' LIMIT $2)`,
      [now - graceMs, limit],
    );
    return rows.map((r) => ({
      executionId: r.execution_id,
      stageId: r.stage_id,
      dueMessage: r.due_message,
      dueSeq: r.due_seq,
    }));
  }

  /** Pipelines with executions waiting for a slot while none of theirs runs (their wake-up was lost). */
  async stalledWaitingPipelines(limit: number): Promise<string[]> {
    const rows = await this.dataSource.query<{ pipeline_id: string }[]>(
      `SELECT DISTINCT w.pipeline_id FROM executions w
        WHERE w.waiting AND w.status = 'NOT_STARTED' AND w.pipeline_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM executions r WHERE r.pipeline_id = w.pipeline_id AND r.status IN ('RUNNING', 'PAUSED'))
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
