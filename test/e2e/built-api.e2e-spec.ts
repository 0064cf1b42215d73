import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  databaseUrl,
  dropTestDatabase,
  testDatabaseName,
  testQueuePrefix,
  TEST_REDIS_URL,
} from '../support/test-database';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
// The project's pinned Node 22, whatever `node` is on the PATH.
const NODE = join(ROOT, 'node_modules/.bin/node');

let outDir: string;
let database: string;
let api: ChildProcess | undefined;
let url: string;

/**
 * What `npm start` serves: the SWC build of the sources, migrated by the built migrate.js, run as a real process
 * on Node 22. The build goes to a directory of this test's own (under node_modules, so packages resolve), never to
 * the shared dist/.
 */
beforeAll(async () => {
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
  outDir = mkdtempSync(join(ROOT, 'node_modules/.cache/jibe-e2e-build-'));
  await run(
    join(ROOT, 'node_modules/.bin/swc'),
    ['apps/api', 'libs', 'migrations', '-d', outDir, '--copy-files', '--quiet'],
    {
      cwd: ROOT,
    },
  );
  database = testDatabaseName();
  const env = {
    PATH: process.env['PATH'] ?? '',
    NODE_ENV: 'test',
    JIBE_ROLE: 'api',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl(database),
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: testQueuePrefix(),
  };
  // migrate.js creates the database, as it does on a fresh machine.
  await run(NODE, [join(outDir, 'libs/persistence/migrate.js')], { cwd: outDir, env });
  api = spawn(NODE, [join(outDir, 'apps/api/main.js')], { cwd: outDir, env, stdio: ['ignore', 'pipe', 'inherit'] });
  url = await listeningUrl(api);
});

afterAll(async () => {
  if (api && api.exitCode === null) {
    const exited = new Promise((done) => api!.once('exit', done));
    api.kill('SIGTERM');
    await exited;
  }
  if (database) await dropTestDatabase(database);
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/** The URL main.js logs once it listens (PORT=0 picks a free port). */
function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((done, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /listening on (http:\/\/\S+?)"/.exec(line);
      if (match) done(match[1]!);
    });
    child.once('exit', (code) => fail(new Error(`the api exited with ${code} before listening`)));
  });
}

describe('the built api entry point', () => {
  it('serves on Node 22, migrated by the built migrate.js, and creates and reads a pipeline', async () => {
    const json = { 'content-type': 'application/json' };
    const app = await fetch(`${url}/api/applications`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'built' }),
    });
    expect(app.status).toBe(201);
    const created = await fetch(`${url}/api/pipelines`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        application: 'built',
        name: 'Deploy',
        stages: [{ refId: '1', type: 'wait', waitTime: 5 }],
      }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const read = await fetch(`${url}/api/pipelines/${id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id, application: 'built', name: 'Deploy', version: 1 });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });
});
