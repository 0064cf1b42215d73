import { ConflictError, NotFoundError } from '@jibe/domain';
import { type DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database';
import { ApplicationRepository } from './application.repository';
import { createDataSource } from './data-source';
import { PipelineRepository } from './pipeline.repository';

let database: TestDatabase;
let dataSource: DataSource;
let pipelines: PipelineRepository;
let applications: ApplicationRepository;

const write = (name: string, extra: Record<string, unknown> = {}) => ({
  application: 'shop',
  name,
  config: { application: 'shop', name, stages: [], ...extra },
});

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = createDataSource(database.url);
  await dataSource.initialize();
  pipelines = new PipelineRepository(dataSource);
  applications = new ApplicationRepository(dataSource);
  await applications.create('shop', { email: null, description: null, attributes: {} }, 'test');
});
afterAll(async () => {
  await dataSource.destroy();
  await database.drop();
});

describe('PipelineRepository against Postgres', () => {
  it('lets exactly one of ten concurrent writers of one version win, and history has no gaps or extras', async () => {
    await pipelines.create('contended', write('Contended'), 'test');
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        pipelines.update('contended', 1, write('Contended', { writer: i }), `writer-${i}`),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(9);
    for (const failure of lost) {
      expect(failure.reason).toBeInstanceOf(ConflictError);
      expect((failure.reason as ConflictError).code).toBe('VERSION_CONFLICT');
    }
    const current = await pipelines.get('contended');
    expect(current.version).toBe(2);
    const history = await pipelines.history('contended');
    expect(history.map((v) => v.version)).toEqual([2, 1]);
    expect(history[0]!.createdBy).toBe(current.updatedBy);
    expect((await pipelines.getVersion('contended', 2)).config).toEqual(current.config);
  });

  it('rolls back the whole save when the version row cannot be written', async () => {
    await pipelines.create('atomic', write('Atomic'), 'test');
    // A version row that already exists makes the second insert of the transaction fail after the UPDATE ran.
    await dataSource.query(
      `INSERT INTO pipeline_versions (pipeline_id, version, name, config, created_by) VALUES ('atomic', 2, 'x', '{}', 'x')`,
    );
    await expect(pipelines.update('atomic', 1, write('Atomic', { changed: true }), 'test')).rejects.toThrow();
    const current = await pipelines.get('atomic');
    expect(current.version).toBe(1);
    expect(current.config['changed']).toBeUndefined();
  });

  it('deletes a pipeline together with its history, and refuses a delete based on a stale version', async () => {
    await pipelines.create('doomed', write('Doomed'), 'test');
    await pipelines.update('doomed', 1, write('Doomed', { v: 2 }), 'test');
    await expect(pipelines.delete('doomed', 1)).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    await pipelines.delete('doomed', 2);
    await expect(pipelines.get('doomed')).rejects.toBeInstanceOf(NotFoundError);
    const rows = await dataSource.query<unknown[]>(`SELECT 1 FROM pipeline_versions WHERE pipeline_id = 'doomed'`);
    expect(rows).toHaveLength(0);
  });

  it('refuses to delete an application that still has pipelines', async () => {
    await expect(applications.delete('shop')).rejects.toMatchObject({ code: 'HAS_PIPELINES' });
    expect(await applications.exists('shop')).toBe(true);
  });
});
