import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config';
import { loggerOptions } from './logger-options';

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'jibe-config-'));
  const file = join(dir, 'jibe.yaml');
  writeFileSync(file, text);
  return file;
}

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('loadConfig', () => {
  it('gives working defaults for local mode and freezes the result', () => {
    const config = loadConfig({});
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080, bodyLimitBytes: 1024 * 1024 });
    expect(config.database.url).toBe('postgres://postgres@127.0.0.1:5432/jibe');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.http)).toBe(true);
    expect(() => {
      (config.http as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it("takes GKE accounts' Google key file from GOOGLE_APPLICATION_CREDENTIALS, as Google's libraries do", () => {
    expect(loadConfig({}).google.credentialsFile).toBeUndefined();
    expect(loadConfig({ GOOGLE_APPLICATION_CREDENTIALS: 'keys/sa.json' }).google.credentialsFile).toBe(
      join(process.cwd(), 'keys/sa.json'),
    );
  });

  it('lists every bad environment variable with its name', () => {
    const problems = problemsOf({ PORT: '99999', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^PORT: /);
    expect(problems.some((p) => p.startsWith('DATABASE_URL: '))).toBe(true);
    expect(problems.some((p) => p.startsWith('LOG_LEVEL: '))).toBe(true);
  });

  it('reads the YAML file and reports its problems by path, together with the environment ones', () => {
    const file = configFile('http:\n  bodyLimit: huge\npipelines:\n  maxStages: -1\n  colour: red\n');
    const problems = problemsOf({ JIBE_CONFIG_FILE: file, PORT: 'eighty' });
    expect(problems).toEqual([
      expect.stringMatching(/^PORT: /),
      expect.stringMatching(/^http\.bodyLimit: /),
      expect.stringMatching(/^pipelines\.maxStages: /),
      'pipelines: unknown key: colour',
    ]);
  });

  it('takes sizes in kb/mb from the file', () => {
    const file = configFile('http:\n  bodyLimit: 256kb\n');
    expect(loadConfig({ JIBE_CONFIG_FILE: file }).http.bodyLimitBytes).toBe(256 * 1024);
  });

  it('refuses a body limit that rounds down to no bytes at all', () => {
    for (const size of ['0kb', '0b', '0.0001kb']) {
      expect(problemsOf({ JIBE_CONFIG_FILE: configFile(`http:\n  bodyLimit: ${size}\n`) })).toEqual([
        'http.bodyLimit: must be at least 1 byte',
      ]);
    }
    expect(problemsOf({ JIBE_CONFIG_FILE: configFile('http:\n  bodyLimit: 0\n') })).toEqual([
      expect.stringMatching(/^http\.bodyLimit: /),
    ]);
  });

  it('names a file that does not parse or does not exist', () => {
    expect(problemsOf({ JIBE_CONFIG_FILE: configFile('http: [unclosed\n') })[0]).toMatch(/^line \d+: /);
    expect(problemsOf({ JIBE_CONFIG_FILE: '/nonexistent/jibe.yaml' })[0]).toMatch(/^\(file\): cannot read/);
  });
});

describe('loggerOptions', () => {
  it('logs an error as type, message, code and stack only, never the query parameters it carries', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino(loggerOptions(loadConfig({ LOG_FORMAT: 'json' })), sink);
    // The shape of TypeORM's QueryFailedError: the failed query, its parameters and the driver's own error.
    const err = Object.assign(new Error('invalid input syntax for type json'), {
      code: '22P02',
      query: 'INSERT INTO pipelines ...',
      parameters: ['p1', { stages: [{ secretish: 'whole pipeline JSON' }] }],
      driverError: { detail: 'Token "x" is invalid.' },
    });
    log.error({ err, errorId: 'e1' }, 'unhandled error');
    const line = JSON.parse(lines[0]!) as { err: Record<string, unknown>; errorId: string };
    expect(Object.keys(line.err).sort()).toEqual(['code', 'message', 'stack', 'type']);
    expect(line.err).toMatchObject({ type: 'Error', message: 'invalid input syntax for type json', code: '22P02' });
    expect(lines[0]).not.toContain('whole pipeline JSON');
    expect(line.errorId).toBe('e1');
  });
});
