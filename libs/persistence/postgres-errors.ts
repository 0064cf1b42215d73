/** SQLSTATE codes Jibe reacts to (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';

/** The SQLSTATE of a driver error, whether TypeORM wrapped it or not. */
export function pgErrorCode(error: unknown): string | undefined {
  if (error && typeof error === 'object') {
    const direct = (error as { code?: unknown }).code;
    if (typeof direct === 'string') return direct;
    const driverError = (error as { driverError?: { code?: unknown } }).driverError;
    if (driverError && typeof driverError.code === 'string') return driverError.code;
  }
  return undefined;
}

/** The constraint a violation names, to tell a duplicate id from a duplicate name. */
export function pgConstraint(error: unknown): string | undefined {
  if (error && typeof error === 'object') {
    const direct = (error as { constraint?: unknown }).constraint;
    if (typeof direct === 'string') return direct;
    const driverError = (error as { driverError?: { constraint?: unknown } }).driverError;
    if (driverError && typeof driverError.constraint === 'string') return driverError.constraint;
  }
  return undefined;
}
