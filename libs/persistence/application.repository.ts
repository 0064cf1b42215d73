import { ConflictError, NotFoundError } from '@jibe/domain';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApplicationEntity } from './application.entity';
import { decodeCursor, encodeCursor, type Page } from './paging';
import { pgErrorCode, PG_FOREIGN_KEY_VIOLATION } from './postgres-errors';
import { PipelineEntity } from './pipeline.entity';
import { versionConflict } from './version-conflict';

// Kept for the package index, which exports it from here.

export interface ApplicationFields {
  readonly email: string | null;
  readonly description: string | null;
  readonly attributes: Record<string, unknown>;
}

/** Applications in Postgres. Every write checks the version the caller read (optimistic locking). */
@Injectable()
export class ApplicationRepository {
  constructor(private readonly dataSource: DataSource) {}

  async create(name: string, fields: ApplicationFields, actor: string): Promise<ApplicationEntity> {
    // A plain INSERT, never TypeORM's save(): save() silently updates a row whose key exists.
    const inserted = await this.dataSource.query<unknown[]>(
      `INSERT INTO applications (name, email, description, attributes, version, updated_by)
       VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (name) DO NOTHING RETURNING name`,
      [name, fields.email, fields.description, fields.attributes, actor],
    );
    if (inserted.length === 0) {
      throw new ConflictError(`application "${name}" already exists`, 'ALREADY_EXISTS', [
        { path: 'name', message: 'already exists' },
      ]);
    }
    return this.get(name);
  }

  async get(name: string): Promise<ApplicationEntity> {
    const row = await this.dataSource.manager.findOneBy(ApplicationEntity, { name });
    if (!row) throw new NotFoundError(`no application named "${name}"`);
    return row;
  }

  async exists(name: string): Promise<boolean> {
    return this.dataSource.manager.existsBy(ApplicationEntity, { name });
  }

  async list(limit: number, cursor?: string): Promise<Page<ApplicationEntity>> {
    const query = this.dataSource.manager
      .createQueryBuilder(ApplicationEntity, 'a')
      .orderBy('a.name', 'ASC')
      .limit(limit + 1);
    if (cursor) query.where('a.name > :after', { after: String(decodeCursor(cursor, 1)[0]) });
    const rows = await query.getMany();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items, nextCursor: encodeCursor([last.name]) } : { items };
  }

  async update(
    name: string,
    expectedVersion: number,
    fields: ApplicationFields,
    actor: string,
  ): Promise<ApplicationEntity> {
    const [, affected] = await this.dataSource.query<[unknown, number]>(
      `UPDATE applications SET email = $3, description = $4, attributes = $5, version = version + 1,
         updated_by = $6, updated_at = now()
       WHERE name = $1 AND version = $2`,
      [name, expectedVersion, fields.email, fields.description, fields.attributes, actor],
    );
    if (affected === 0) {
      const current = await this.get(name);
      throw versionConflict('application', current.version, expectedVersion);
    }
    return this.get(name);
  }

  async delete(name: string): Promise<void> {
    try {
      const result = await this.dataSource.manager.delete(ApplicationEntity, { name });
      if (result.affected === 0) throw new NotFoundError(`no application named "${name}"`);
    } catch (error) {
      if (pgErrorCode(error) === PG_FOREIGN_KEY_VIOLATION) {
        const count = await this.dataSource.manager.countBy(PipelineEntity, { application: name });
        throw new ConflictError(
          `application "${name}" still has ${count} pipeline${count === 1 ? '' : 's'}; delete them first`,
          'HAS_PIPELINES',
        );
      }
      throw error;
    }
  }
}
