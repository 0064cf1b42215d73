import { type ErrorDetail } from '@jibe/domain';

/** The one error shape of the REST API (README.md "REST API"). */
export interface ErrorBody {
  error: { code: string; message: string; details: readonly ErrorDetail[]; errorId?: string };
}

export function errorBody(
  code: string,
  message: string,
  details: readonly ErrorDetail[] = [],
  errorId?: string,
): ErrorBody {
  return { error: { code, message, details, ...(errorId ? { errorId } : {}) } };
}
