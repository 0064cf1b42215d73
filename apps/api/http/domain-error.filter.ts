import {
  ConflictError,
  type DomainError,
  DomainError as DomainErrorBase,
  InvalidRequestError,
  NotFoundError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '@jibe/domain';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { type Response } from 'express';
import { errorBody } from './error-body';

/** HTTP status of each domain error class; anything not listed is a bug and answers 500. */
const STATUS_BY_ERROR = new Map<abstract new (...args: never[]) => DomainError, number>([
  [InvalidRequestError, HttpStatus.BAD_REQUEST],
  [ValidationError, HttpStatus.UNPROCESSABLE_ENTITY],
  [NotFoundError, HttpStatus.NOT_FOUND],
  [ConflictError, HttpStatus.CONFLICT],
  [UnsupportedMediaTypeError, HttpStatus.UNSUPPORTED_MEDIA_TYPE],
]);

/**
 * Where a 500's errorId is left on the response (`res.locals`): the request logger sees it and does not log the
 * failure a second time, without the cause.
 */
export const LOGGED_ERROR_ID = 'errorId';

/**
 * Maps every error to the API's error body. Domain errors keep their code and details; Nest's HTTP exceptions
 * (unknown route, wrong method) keep their status; anything else is a 500 whose errorId is logged with the cause.
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('DomainErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (exception instanceof DomainErrorBase) {
      const status = statusOf(exception);
      if (status !== undefined) {
        response.status(status).json(errorBody(exception.code, exception.message, exception.details));
        return;
      }
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      response.status(status).json(errorBody(codeForStatus(status), exception.message));
      return;
    }
    const errorId = randomUUID();
    // The err serializer of loggerOptions keeps type, message, code and stack: query parameters stay out of logs.
    this.logger.error({ err: exception, errorId }, 'unhandled error');
    response.locals[LOGGED_ERROR_ID] = errorId;
    response
      .status(HttpStatus.INTERNAL_SERVER_ERROR)
      .json(errorBody('INTERNAL', `internal error; quote errorId ${errorId} when reporting it`, [], errorId));
  }
}

function statusOf(error: DomainError): number | undefined {
  for (const [type, status] of STATUS_BY_ERROR) if (error instanceof type) return status;
  return undefined;
}

function codeForStatus(status: number): string {
  const name = HttpStatus[status];
  return typeof name === 'string' ? name : `HTTP_${status}`;
}
