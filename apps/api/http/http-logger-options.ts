import { type JibeConfig, loggerOptions } from '@jibe/config';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Params } from 'nestjs-pino';
import { LOGGED_ERROR_ID } from './domain-error.filter';

type LevelOrSilent = 'silent' | 'info' | 'warn' | 'error';

/**
 * The level of a request's log line. A 500 that {@link DomainErrorFilter} answered was already logged there, with
 * its cause and errorId, so the request line is not written again; any other 5xx (an error no filter saw) is.
 */
export function requestLogLevel(_req: IncomingMessage, res: ServerResponse, err?: Error): LevelOrSilent {
  const locals = (res as ServerResponse & { locals?: Record<string, unknown> }).locals;
  if (locals?.[LOGGED_ERROR_ID] !== undefined) return 'silent';
  if (err || res.statusCode >= 500) return 'error';
  return 'info';
}

/** nestjs-pino options of the api: the shared logger options plus one short line per request. */
export function httpLoggerOptions(config: JibeConfig): Params {
  const base = loggerOptions(config);
  return {
    pinoHttp: {
      ...base,
      // Health probes and metrics scrapes every few seconds would drown the log.
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
      customLogLevel: requestLogLevel,
      // One short line per request: headers may carry credentials and are noise anyway.
      serializers: {
        ...base.serializers,
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    },
  };
}
