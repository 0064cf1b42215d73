import { ConflictError } from '@jibe/domain';

/**
 * The 409 for a write based on a stale read (optimistic locking): says which version the caller had and which is
 * current, at the path `version`.
 */
export function versionConflict(what: string, current: number, expected: number): ConflictError {
  return new ConflictError(
    `${what} was changed by someone else: you sent version ${expected}, the current version is ${current}; read it again and retry`,
    'VERSION_CONFLICT',
    [{ path: 'version', message: `stale: current version is ${current}` }],
  );
}
