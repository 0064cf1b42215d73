import { createDataSource } from '@jibe/persistence';
import { type TestProject } from 'vitest/node';
import {
  databaseUrl,
  newTestRunId,
  TEST_DATABASE_PREFIX,
  templateDatabaseName,
  withAdminClient,
} from './test-database';

/** A test database nobody has touched for this long was left behind by an interrupted run. */
const LEFTOVER_AGE = '1 hour';

/**
 * Runs once before all test files: gives this run an id (handed to the test files with `provide`), builds the
 * run's template database by running the real migrations (so the tests also prove the migrations apply to an
 * empty database), and removes databases that interrupted runs left behind. Other people's runs on the same
 * machine are never touched: teardown drops only this run's databases, and a leftover is dropped only when it is
 * over an hour old and nobody is connected to it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = newTestRunId();
  const template = templateDatabaseName(runId);
  project.provide('jibeTestRunId', runId);
  await withAdminClient(async (client) => {
    await dropLeftovers(client);
    await client.query(`CREATE DATABASE "${template}"`);
  });
  const dataSource = createDataSource(databaseUrl(template));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await dataSource.destroy();
  return async () => {
    await withAdminClient(async (client) => {
      const ours = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
        `${likeEscape(`${TEST_DATABASE_PREFIX}${runId}_`)}%`,
      ]);
      for (const { datname } of ours.rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    });
  };
}

async function dropLeftovers(client: Parameters<Parameters<typeof withAdminClient>[0]>[0]): Promise<void> {
  // A database's age is the age of its PG_VERSION file, written when it was created (pg_database keeps no time).
  // missing_ok: another run may drop one of its databases between this query's scan and the file check; such a
  // database is simply not a leftover (without it the whole run failed with "could not stat file", 58P01).
  const leftovers = await client.query<{ datname: string }>(
    `SELECT d.datname FROM pg_database d
      WHERE d.datname LIKE $1
        AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)
        AND (pg_stat_file('base/' || d.oid || '/PG_VERSION', true)).modification < now() - $2::interval`,
    [`${likeEscape(TEST_DATABASE_PREFIX)}%`, LEFTOVER_AGE],
  );
  for (const { datname } of leftovers.rows) {
    // Without FORCE: if someone connected in the meantime, the database is in use after all, so it stays.
    await client.query(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => undefined);
  }
}

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}
