import { z } from 'zod';
import { type AccountConfig, accountsSchema } from './accounts.schema';

/** Environment variables Jibe reads (all documented in `.env.example`). */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  JIBE_ROLE: z
    .enum(['all', 'api', 'worker'])
    .default('all')
    .describe('all = api + worker in one process (local mode); api or worker for production Deployments'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/jibe'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[a-z0-9:_-]+$/, 'lowercase letters, digits, ":", "_" and "-" only')
    .default('jibe'),
  JIBE_CONFIG_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  GOOGLE_APPLICATION_CREDENTIALS: z
    .string()
    .min(1)
    .optional()
    .describe(
      "a Google service-account or authorized_user key file for GKE accounts (else gcloud's, else the metadata server)",
    ),
});

/** Size limits of request bodies, e.g. `1mb`, `512kb`, or a number of bytes. */
const byteSize = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?\s*(b|kb|mb)$/i, 'a size such as 512kb or 1mb')])
  .transform((value) => (typeof value === 'number' ? value : parseByteSize(value)))
  // `0kb` and `0.0001kb` match the pattern but leave no room for any body.
  .pipe(z.number().int().min(1, 'must be at least 1 byte'));

/** The YAML config file. Later capabilities (accounts, repositories, roles) add their sections here. */
export const fileSchema = z
  .object({
    http: z
      .object({
        bodyLimit: byteSize.default(1024 * 1024),
      })
      .strict()
      .default({ bodyLimit: 1024 * 1024 }),
    pipelines: z
      .object({
        maxStages: z.number().int().positive().max(10_000).default(500),
      })
      .strict()
      .default({ maxStages: 500 }),
    engine: z
      .object({
        /** Queue messages one worker process handles at once. */
        concurrency: z.number().int().min(1).max(1000).default(32),
        /** How long a task that runs outside the database transaction may hold its stage before another worker may take over. */
        taskLeaseSeconds: z
          .number()
          .int()
          .min(10)
          .max(24 * 3600)
          .default(300),
        /** A due message still unprocessed this long after it was due is treated as lost and sent again. */
        sweepGraceSeconds: z.number().min(0.5).max(3600).default(5),
        sweepIntervalSeconds: z.number().min(0.1).max(3600).default(2),
        maxTransientRetries: z.number().int().min(0).max(100).default(5),
        retryBackoffMs: z.number().int().min(1).max(600_000).default(500),
      })
      .strict()
      .prefault({}),
    executions: z
      .object({
        retention: z
          .object({
            enabled: z.boolean().default(true),
            maxAgeDays: z.number().min(0.01).max(3650).default(30),
            /** The newest executions of each pipeline kept whatever their age. */
            keepPerPipeline: z.number().int().min(0).max(100_000).default(20),
            batchSize: z.number().int().min(1).max(10_000).default(500),
            intervalMinutes: z
              .number()
              .min(0.1)
              .max(7 * 24 * 60)
              .default(10),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Kubernetes clusters Jibe deploys to (see accounts.schema.ts). */
    accounts: accountsSchema,
  })
  .strict();

export type EnvConfig = z.infer<typeof envSchema>;
export type FileConfig = z.infer<typeof fileSchema>;

/** The whole configuration, parsed once at start-up and frozen. */
export interface JibeConfig {
  readonly env: EnvConfig['NODE_ENV'];
  readonly role: EnvConfig['JIBE_ROLE'];
  /** No accounts configured in a single all-in-one process: Jibe serves two simulated clusters itself. */
  readonly localMode: boolean;
  readonly http: { readonly host: string; readonly port: number; readonly bodyLimitBytes: number };
  readonly database: { readonly url: string };
  readonly redis: { readonly url: string; readonly queuePrefix: string };
  readonly log: { readonly level: EnvConfig['LOG_LEVEL']; readonly format: 'json' | 'pretty' };
  readonly pipelines: { readonly maxStages: number };
  readonly engine: Readonly<FileConfig['engine']>;
  readonly executions: { readonly retention: Readonly<FileConfig['executions']['retention']> };
  /** Kubernetes accounts, in the order the file lists them. */
  readonly accounts: readonly AccountConfig[];
  /** Google application-default credentials for `gke` accounts: a key file, when one is given. */
  readonly google: { readonly credentialsFile: string | undefined };
  /** Where the config file was read from, if any. */
  readonly configFile: string | undefined;
}

function parseByteSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb)$/i.exec(text);
  if (!match) throw new Error(`not a size: ${text}`);
  const units: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };
  return Math.floor(Number(match[1]) * (units[match[2]!.toLowerCase()] ?? 1));
}
