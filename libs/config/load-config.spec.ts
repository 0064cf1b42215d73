import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config';

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

  it('names a file that does not parse or does not exist', () => {
    expect(problemsOf({ JIBE_CONFIG_FILE: configFile('http: [unclosed\n') })[0]).toMatch(/^line \d+: /);
    expect(problemsOf({ JIBE_CONFIG_FILE: '/nonexistent/jibe.yaml' })[0]).toMatch(/^\(file\): cannot read/);
  });
});
