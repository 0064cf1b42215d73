import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { type z } from 'zod';
import { zodIssuesToDetails } from '@jibe/domain';
import { accountSchema } from './accounts.schema';
import { envSchema, fileSchema, type JibeConfig } from './config.schema';

/** One problem found in the configuration, with where it is. */
export interface ConfigProblem {
  readonly source: string;
  readonly path: string;
  readonly message: string;
}

/** Thrown when the environment or the config file is invalid; lists every problem, not just the first. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.source} ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_CONFIG_FILE = 'jibe.yaml';

/** The simulated clusters of local mode, each an account of the same name. */
export const LOCAL_MODE_ACCOUNTS = ['sim-staging', 'sim-production'] as const;

/**
 * Reads the environment and the YAML config file into one frozen, typed object.
 * `env` defaults to `process.env`; this is the only place that reads it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): JibeConfig {
  const problems: ConfigProblem[] = [];
  // An empty variable (`LOG_FORMAT=` in a .env file) means "not set", as it does for most tools.
  env = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const envResult = envSchema.safeParse(env, { reportInput: true });
  if (!envResult.success) problems.push(...toProblems('env', envResult.error));

  const explicitFile = env['JIBE_CONFIG_FILE'];
  const configFile = explicitFile ? resolve(explicitFile) : existingDefaultFile();
  let fileValue: unknown = {};
  if (configFile) {
    const read = readYaml(configFile);
    if ('problem' in read) problems.push(read.problem);
    else fileValue = read.value ?? {};
  }
  const fileResult = fileSchema.safeParse(fileValue, { reportInput: true });
  if (!fileResult.success) problems.push(...toProblems(configFile ?? 'config file', fileResult.error));

  if (problems.length > 0 || !envResult.success || !fileResult.success) throw new ConfigError(problems);

  const e = envResult.data;
  const f = fileResult.data;
  // Local mode (docs/architecture.md): one process with no clusters configured gets two simulated ones, so
  // `npm start` runs a real pipeline on a fresh machine. Never in production, and never for a process that is only
  // api or worker.
  const localMode = e.JIBE_ROLE === 'all' && e.NODE_ENV !== 'production' && f.accounts.length === 0;
  return deepFreeze({
    localMode,
    env: e.NODE_ENV,
    role: e.JIBE_ROLE,
    http: { host: e.HOST, port: e.PORT, bodyLimitBytes: f.http.bodyLimit },
    database: { url: e.DATABASE_URL },
    redis: { url: e.REDIS_URL, queuePrefix: e.QUEUE_PREFIX },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT ?? (e.NODE_ENV === 'production' ? 'json' : 'pretty') },
    pipelines: { maxStages: f.pipelines.maxStages },
    engine: f.engine,
    executions: f.executions,
    accounts: localMode
      ? LOCAL_MODE_ACCOUNTS.map((name) => accountSchema.parse({ name, kind: 'simulated' }))
      : f.accounts,
    google: { credentialsFile: e.GOOGLE_APPLICATION_CREDENTIALS && resolve(e.GOOGLE_APPLICATION_CREDENTIALS) },
    configFile,
  });
}

function existingDefaultFile(): string | undefined {
  const candidate = resolve(DEFAULT_CONFIG_FILE);
  return existsSync(candidate) ? candidate : undefined;
}

function readYaml(file: string): { value: unknown } | { problem: ConfigProblem } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { problem: { source: file, path: '(file)', message: `cannot read: ${(error as Error).message}` } };
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  const first = doc.errors[0];
  if (first)
    return { problem: { source: file, path: `line ${first.linePos?.[0].line ?? '?'}`, message: first.message } };
  return { value: doc.toJS() as unknown };
}

function toProblems(source: string, error: z.ZodError): ConfigProblem[] {
  return zodIssuesToDetails(error.issues).map((detail) => ({ source, ...detail }));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * For entry points: the configuration, or — when it is invalid — every problem on stderr and exit code 1, before
 * anything else starts.
 */
export function loadConfigOrExit(): JibeConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
