import { ConflictError, NotFoundError, ValidationError } from '@jibe/domain';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { decodeCursor, encodeCursor, type Page } from './paging';
import { pgConstraint, pgErrorCode, PG_FOREIGN_KEY_VIOLATION, PG_UNIQUE_VIOLATION } from './postgres-errors';
import { PipelineVersionEntity } from './pipeline-version.entity';
import { PipelineEntity } from './pipeline.entity';
import { versionConflict } from './version-conflict';

const NAME_CONSTRAINT = 'pipelines_application_name_key';
/** pipelines.application → applications.name, as the PipelineStore migration named it. */
const APPLICATION_CONSTRAINT = 'FK_41dc08557de1b76f5ecf1335b00';

/** What is saved for a pipeline: its identity columns and the rest of its JSON. */
export interface PipelineWrite {
  readonly application: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
}

export interface PipelineListQuery {
  readonly application?: string;
  readonly limit: number;
  readonly cursor?: string;
}

/**
 * Pipelines and their version history. Every save writes the new current row and an immutable version row in one
 * transaction, so history can never miss a version or hold one that was not saved.
 */
@Injectable()
export class PipelineRepository {
  constructor(private readonly dataSource: DataSource) {}

  async create(id: string, write: PipelineWrite, actor: string): Promise<PipelineEntity> {
    return this.translateViolations(write, () =>
      this.dataSource.transaction(async (manager) => {
        // A plain INSERT, never TypeORM's save(): save() turns into an UPDATE when the key exists.
        const inserted = await manager.query<unknown[]>(
          `INSERT INTO pipelines (id, application, name, version, config, updated_by) VALUES ($1, $2, $3, 1, $4, $5)
           ON CONFLICT (id) DO NOTHING RETURNING id`,
          [id, write.application, write.name, write.config, actor],
        );
        if (inserted.length === 0) {
          throw new ConflictError(`a pipeline with id "${id}" already exists`, 'ALREADY_EXISTS', [
            { path: 'id', message: 'already exists' },
          ]);
        }
        const saved = await manager.findOneByOrFail(PipelineEntity, { id });
        await this.recordVersion(manager, saved, actor, null);
        return saved;
      }),
    );
  }

  async get(id: string): Promise<PipelineEntity> {
    const row = await this.dataSource.manager.findOneBy(PipelineEntity, { id });
    if (!row) throw new NotFoundError(`no pipeline with id "${id}"`);
    return row;
  }

  async list(query: PipelineListQuery): Promise<Page<PipelineEntity>> {
    const builder = this.dataSource.manager
      .createQueryBuilder(PipelineEntity, 'p')
      .orderBy('p.application', 'ASC')
      .addOrderBy('p.name', 'ASC')
      .addOrderBy('p.id', 'ASC')
      .limit(query.limit + 1);
    if (query.application) builder.andWhere('p.application = :application', { application: query.application });
    if (query.cursor) {
      const [application, name, id] = decodeCursor(query.cursor, 3).map(String);
      builder.andWhere('(p.application, p.name, p.id) > (:application_, :name_, :id_)', {
        application_: application,
        name_: name,
        id_: id,
      });
    }
    const rows = await builder.getMany();
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return rows.length > query.limit && last
      ? { items, nextCursor: encodeCursor([last.application, last.name, last.id]) }
      : { items };
  }

  /**
   * Saves a new version if, and only if, the current version is still `expectedVersion`. Two writers that read the
   * same version race on the row lock the UPDATE takes: the second re-checks the version after the first commits,
   * matches nothing, and gets a 409; its changes are not applied anywhere.
   */
  async update(
    id: string,
    expectedVersion: number,
    write: PipelineWrite,
    actor: string,
    revertedFrom: number | null = null,
  ): Promise<PipelineEntity> {
    return this.translateViolations(write, () =>
      this.dataSource.transaction(async (manager) => {
        const [, affected] = await manager.query<[unknown, number]>(
          `UPDATE pipelines SET application = $3, name = $4, config = $5, version = version + 1,
             updated_by = $6, updated_at = now()
           WHERE id = $1 AND version = $2`,
          [id, expectedVersion, write.application, write.name, write.config, actor],
        );
        if (affected === 0) {
          const current = await manager.findOneBy(PipelineEntity, { id });
          if (!current) throw new NotFoundError(`no pipeline with id "${id}"`);
          throw versionConflict('pipeline', current.version, expectedVersion);
        }
        const saved = await manager.findOneByOrFail(PipelineEntity, { id });
        await this.recordVersion(manager, saved, actor, revertedFrom);
        return saved;
      }),
    );
  }

  async delete(id: string, expectedVersion?: number): Promise<void> {
    const result = await this.dataSource.manager.delete(
      PipelineEntity,
      expectedVersion === undefined ? { id } : { id, version: expectedVersion },
    );
    if (result.affected === 0) {
      const current = await this.get(id);
      throw versionConflict('pipeline', current.version, expectedVersion ?? current.version);
    }
  }

  /** Versions newest first, without their configs (fetch one with {@link getVersion}). */
  async history(id: string): Promise<Omit<PipelineVersionEntity, 'config'>[]> {
    await this.get(id);
    return this.dataSource.manager.find(PipelineVersionEntity, {
      where: { pipelineId: id },
      order: { version: 'DESC' },
      select: { pipelineId: true, version: true, name: true, revertedFrom: true, createdAt: true, createdBy: true },
    });
  }

  async getVersion(id: string, version: number): Promise<PipelineVersionEntity> {
    const row = await this.dataSource.manager.findOneBy(PipelineVersionEntity, { pipelineId: id, version });
    if (!row) {
      await this.get(id);
      throw new NotFoundError(`pipeline "${id}" has no version ${version}`);
    }
    return row;
  }

  private async recordVersion(
    manager: EntityManager,
    saved: PipelineEntity,
    actor: string,
    revertedFrom: number | null,
  ): Promise<void> {
    // Versions are immutable: an INSERT that fails on an existing version aborts the whole save.
    await manager.query(
      `INSERT INTO pipeline_versions (pipeline_id, version, name, config, reverted_from, created_by)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [saved.id, saved.version, saved.name, saved.config, revertedFrom, actor],
    );
  }

  /**
   * Constraint violations that are the caller's mistake, as domain errors: a name already used in the application
   * (409), and an application deleted after the service checked it exists but before this write (422, as if the
   * check had caught it).
   */
  private async translateViolations<T>(write: PipelineWrite, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const code = pgErrorCode(error);
      if (code === PG_UNIQUE_VIOLATION && pgConstraint(error) === NAME_CONSTRAINT) {
        throw new ConflictError(
          `application "${write.application}" already has a pipeline named "${write.name}"`,
          'ALREADY_EXISTS',
          [{ path: 'name', message: 'already used in this application' }],
        );
      }
      if (code === PG_FOREIGN_KEY_VIOLATION && pgConstraint(error) === APPLICATION_CONSTRAINT) {
        throw new ValidationError('pipeline is invalid: 1 problem', [
          { path: 'application', message: `no application named "${write.application}"; create it first` },
        ]);
      }
      throw error;
    }
  }
}
