import { type JibeConfig } from '@jibe/config';
import { inspectJson } from '@jibe/domain';
import { type INestApplication } from '@nestjs/common';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { DomainErrorFilter } from './domain-error.filter';
import { errorBody } from './error-body';
import { ZodValidationPipe } from './zod-validation.pipe';

/**
 * Everything an api instance needs besides its module: body parsing with a size limit, refusal of bodies no code
 * should see (prototype keys, text Postgres cannot store, absurd nesting), validation of bodies, params and
 * queries against their zod schemas, and the one error format. main.ts and the e2e tests both call this, so tests
 * drive exactly what production serves.
 */
export function configureApp(app: INestApplication, config: JibeConfig): void {
  (app.getHttpAdapter().getInstance() as Express).disable('x-powered-by');
  app.use(express.json({ limit: config.http.bodyLimitBytes, strict: false }));
  app.use(bodyParserErrors(config.http.bodyLimitBytes));
  app.use(refuseUnsafeBodies);
  app.useGlobalPipes(new ZodValidationPipe());
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

const MAX_DETAILS = 100;

/**
 * One walk over every parsed body, before any code sees it: `__proto__`, `constructor` and `prototype` keys, keys
 * and strings with NUL or lone surrogates (Postgres refuses them), and nesting deeper than the limit (which would
 * overflow recursive code further on) are each a 400 naming the path.
 */
function refuseUnsafeBodies(req: Request, res: Response, next: NextFunction): void {
  const found = req.body === undefined ? [] : inspectJson(req.body);
  if (found.length === 0) {
    next();
    return;
  }
  const hostile = found.some((problem) => problem.kind === 'hostile-key');
  res.status(400).json(
    errorBody(
      hostile ? 'HOSTILE_KEY' : 'INVALID_REQUEST',
      hostile ? 'request body uses keys that are not allowed' : 'request body holds values that cannot be accepted',
      // The first ones are enough to fix the body; a hostile client does not get a response larger than its request.
      found.slice(0, MAX_DETAILS).map(({ path, message }) => ({ path, message })),
    ),
  );
}
