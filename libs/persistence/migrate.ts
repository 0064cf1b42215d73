import { loadConfig, loggerOptions } from '@jibe/config';
import pino from 'pino';
import { Client } from 'pg';
import { createDataSource } from './data-source';

/**
 * `npm run migrate`: creates the database if it does not exist, then runs pending migrations.
 * `--check`: also fails (exit 1) when the entities and the migrations disagree, printing the SQL that is missing.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino(loggerOptions(config));
  const check = process.argv.includes('--check');
  await ensureDatabase(config.database.url);
  const dataSource = createDataSource(config.database.url);
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    log.info({ applied: applied.map((m) => m.name) }, `migrations: ${applied.length} applied`);
    if (check) {
      const pending = await dataSource.driver.createSchemaBuilder().log();
      if (pending.upQueries.length > 0) {
        log.error(
          { missing: pending.upQueries.map((q) => q.query) },
          'entities and migrations disagree: run `npm run migration:generate -- migrations/<Name>` and add it to migrations/index.ts',
        );
        process.exitCode = 1;
      } else {
        log.info('entities and migrations agree');
      }
    }
  } finally {
    await dataSource.destroy();
    log.flush();
  }
}

/** A fresh machine has Postgres but not Jibe's database; create it so `npm start` needs no manual step. */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
