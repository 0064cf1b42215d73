/** One problem with an input, located by a JSON path such as `stages[3].manifests[0].kind`. */
export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

/**
 * Base of every error Jibe's libs throw on purpose. The code is stable and machine-readable; one HTTP filter maps
 * each subclass to a status, so libs never know about HTTP.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request itself is malformed (wrong shape, hostile keys, bad query). */
export class InvalidRequestError extends DomainError {
  readonly code = 'INVALID_REQUEST';
}

/** Well-formed input that breaks a rule (an invalid pipeline graph, an unknown stage type). */
export class ValidationError extends DomainError {
  readonly code = 'VALIDATION_FAILED';
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
}

/** The target changed since the caller read it, or the write clashes with existing state. */
export class ConflictError extends DomainError {
  readonly code: string;
  constructor(message: string, code = 'CONFLICT', details: readonly ErrorDetail[] = []) {
    super(message, details);
    this.code = code;
  }
}

/** The request body is not JSON (no or another content type), so nothing in it can be read. */
export class UnsupportedMediaTypeError extends DomainError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
}
