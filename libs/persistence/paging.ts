import { InvalidRequestError, unstorableTextReason } from '@jibe/domain';

/** A page of results and the opaque cursor of the next page (absent on the last page). */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

/** Cursors are the sort key of the last row, base64url-encoded; they mean nothing to clients. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string, length: number): (string | number)[] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) &&
      key.length === length &&
      // A forged cursor could carry text Postgres refuses (NUL, a lone surrogate), which would be a 500 later.
      key.every(
        (k): k is string | number =>
          (typeof k === 'string' && unstorableTextReason(k) === undefined) ||
          (typeof k === 'number' && Number.isFinite(k)),
      )
    ) {
      return key;
    }
  } catch {
    // fall through to the error below: a cursor that does not decode is the client's mistake, not ours
  }
  throw new InvalidRequestError('invalid cursor', [{ path: 'cursor', message: 'not a cursor this server issued' }]);
}
