import { type LoggerOptions } from 'pino';
import { type JibeConfig } from './config.schema';

/** Paths pino blanks out wherever they appear: credentials must never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-gitlab-token"]',
  'req.headers["x-hub-signature"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.secret',
  '*.clientSecret',
  '*.privateKey',
];

/**
 * Logs an error as its type, message, code and stack only. Errors carry more than that: TypeORM's QueryFailedError
 * holds the query's `parameters` (a whole pipeline's JSON) and the driver's error; none of it belongs in a log.
 */
export function serializeError(value: unknown): { type: string; message: string; code?: string; stack?: string } {
  // pino-http (so every nestjs-pino logger) hands `err` serializers pino's own serialization, the error in `raw`.
  const err = (value as { raw?: unknown } | null)?.raw ?? value;
  if (!(err instanceof Error)) return { type: typeof err, message: String(err) };
  const code = (err as { code?: unknown }).code;
  return {
    type: err.constructor.name,
    message: err.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    ...(err.stack ? { stack: err.stack } : {}),
  };
}

/** Pino options for every Jibe process: JSON in production, pretty in development, secrets redacted. */
export function loggerOptions(config: JibeConfig): LoggerOptions {
  return {
    level: config.log.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'jibe', role: config.role },
    serializers: { err: serializeError },
    ...(config.log.format === 'pretty'
      ? { transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  };
}
