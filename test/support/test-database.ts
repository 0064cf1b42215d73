import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { inject } from 'vitest';

/** Where the tests' Postgres lives; the machine's local server unless TEST_DATABASE_URL says otherwise. */
export const TEST_POSTGRES_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Every database a test run creates starts with this, then the run id. */
export const TEST_DATABASE_PREFIX = 'jibe_test_';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The id of this `vitest run`, set by global-setup: every database of the run is named after it. */
    jibeTestRunId: string;
  }
}

/**
 * A new run id: the start time (seconds, base 36) and random bits. Several people run the tests on one machine
 * at once; each run touches only databases named after its own id.
 */
export function newTestRunId(): string {
  return `${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** The migrated template of a run, which each test file's database is cloned from. */
export function templateDatabaseName(runId: string): string {
  return `${TEST_DATABASE_PREFIX}${runId}_tpl`;
}

/** A fresh database name of this run (inside a test file). */
export function testDatabaseName(): string {
  return `${TEST_DATABASE_PREFIX}${inject('jibeTestRunId')}_${randomBytes(6).toString('hex')}`;
}

export function databaseUrl(name: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdminClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Drops one database of this run. Pools that were just ended may still be closing their connections; killing those
 * (WITH FORCE) makes pg emit an error nobody listens to any more, so a plain DROP is retried for a moment first and
 * FORCE is only the last resort.
 */
export async function dropTestDatabase(name: string): Promise<void> {
  await withAdminClient(async (client) => {
    for (let attempt = 0; attempt < 30; attempt++) {
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}"`);
        return;
      } catch (error) {
        // 55006: object_in_use — someone is still connected.
        if ((error as { code?: string }).code !== '55006') throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
}

/** A database of this test file's own, cloned from the migrated template (cheap: a file copy inside Postgres). */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = testDatabaseName();
  const template = templateDatabaseName(inject('jibeTestRunId'));
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  return { name, url: databaseUrl(name), drop: () => dropTestDatabase(name) };
}

/** A BullMQ/Redis key prefix of this test file's own, so parallel files never share queues. */
export function testQueuePrefix(): string {
  return `jibe-test-${randomBytes(4).toString('hex')}`;
}
