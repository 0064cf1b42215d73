import { createDataSource } from '@jibe/persistence';
import { databaseUrl, TEMPLATE_DATABASE, withAdminClient } from './test-database';

/**
 * Runs once before all test files: builds the template database every integration test clones, by running the
 * real migrations (so the tests also prove the migrations apply to an empty database), and removes databases
 * that an interrupted earlier run left behind.
 */
export default async function setup(): Promise<() => Promise<void>> {
  await withAdminClient(async (client) => {
    const leftovers = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'jibe\\_test\\_%'",
    );
    for (const { datname } of leftovers.rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  });
  const dataSource = createDataSource(databaseUrl(TEMPLATE_DATABASE));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await dataSource.destroy();
  return async () => {
    await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`));
  };
}
