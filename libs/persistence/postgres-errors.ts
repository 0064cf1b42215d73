/** SQLSTATE codes Jibe reacts to (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';

/** The SQLSTATE of a driver error, whether TypeORM wrapped it or not. */
export function pgErrorCode(error: unknown): string | undefined {
  return pgErrorField(error, 'code');
}

/** The constraint a violation names, to tell a duplicate id from a duplicate name. */
export function pgConstraint(error: unknown): string | undefined {
  return pgErrorField(error, 'constraint');
}

/** A string field of a pg error, read from the error itself or from the `driverError` TypeORM wraps it in. */
function pgErrorField(error: unknown, field: 'code' | 'constraint'): string | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const direct = (error as Record<string, unknown>)[field];
  if (typeof direct === 'string') return direct;
  const driverError = (error as { driverError?: unknown }).driverError;
  const wrapped =
    driverError && typeof driverError === 'object' ? (driverError as Record<string, unknown>)[field] : undefined;
  return typeof wrapped === 'string' ? wrapped : undefined;
}
