import { type JibeConfig } from '@jibe/config';
import { findHostileKeys, formatJsonPath, InvalidRequestError } from '@jibe/domain';
import { type INestApplication, StandardSchemaValidationPipe } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { DomainErrorFilter } from './domain-error.filter';
import { errorBody } from './error-body';

/**
 * Everything an api instance needs besides its module: body parsing with a size limit, refusal of prototype keys,
 * validation of bodies and queries against their zod schemas, and the one error format. main.ts and the e2e tests
 * both call this, so tests drive exactly what production serves.
 */
export function configureApp(app: INestApplication, config: JibeConfig): void {
  app.use(express.json({ limit: config.http.bodyLimitBytes, strict: false }));
  app.use(bodyParserErrors(config.http.bodyLimitBytes));
  app.use(refuseHostileKeys);
  app.useGlobalPipes(
    new StandardSchemaValidationPipe({
      exceptionFactory: (issues) =>
        new InvalidRequestError(
          'request is invalid',
          issues.map((issue) => ({
            path: formatJsonPath(
              (issue.path ?? []).map((segment) => (typeof segment === 'object' ? segment.key : segment)),
            ),
            message: issue.message,
          })),
        ),
    }),
  );
  app.useGlobalFilters(new DomainErrorFilter());
  app.enableShutdownHooks();
}

/** Body-parser's own errors (too large, not JSON) in the API's error format. */
function bodyParserErrors(limit: number) {
  return (error: unknown, _req: Request, res: Response, next: NextFunction): void => {
    const type = (error as { type?: string } | null)?.type;
    if (type === 'entity.too.large') {
      const length = (error as { length?: number }).length;
      res
        .status(413)
        .json(
          errorBody('PAYLOAD_TOO_LARGE', `request body is larger than the limit of ${limit} bytes`, [
            { path: '(body)', message: `${length ?? 'more than ' + limit} bytes; the limit is ${limit}` },
          ]),
        );
      return;
    }
    if (type === 'entity.parse.failed') {
      res
        .status(400)
        .json(
          errorBody('INVALID_JSON', 'request body is not valid JSON', [
            { path: '(body)', message: (error as Error).message },
          ]),
        );
      return;
    }
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
      res.status(415).json(errorBody('UNSUPPORTED_MEDIA_TYPE', (error as Error).message));
      return;
    }
    next(error);
  };
}

/** `__proto__`, `constructor` and `prototype` keys are refused anywhere in a body before any code sees it. */
function refuseHostileKeys(req: Request, res: Response, next: NextFunction): void {
  const found = req.body === undefined ? [] : findHostileKeys(req.body);
  if (found.length === 0) {
    next();
    return;
  }
  res.status(400).json(
    errorBody(
      'HOSTILE_KEY',
      'request body uses keys that are not allowed',
      found.map((path) => ({ path, message: 'key not allowed: it could reach an object prototype' })),
    ),
  );
}
