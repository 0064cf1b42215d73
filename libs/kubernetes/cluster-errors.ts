import { ApiException } from '@kubernetes/client-node';
import { TransientError } from '@jibe/domain';
import { ClusterError } from '@jibe/stages';
import { ConnectionFailure } from './account-client';

interface Status {
  message?: string;
  reason?: string;
  details?: { causes?: { type?: string; reason?: string }[] };
}

/**
 * Turns whatever a call to an account's cluster threw into the port's errors, naming the account and what failed:
 * a retry may help (no connection, timeout, 429, 5xx, 409 from a concurrent writer) → TransientError; otherwise
 * (an untrusted server certificate among them)
 * → ClusterError with Kubernetes' own Status message and reason. A server-side apply conflict over field
 * ownership is a 409 too, but retrying cannot resolve it (only `force` can), so it is a ClusterError.
 */
export function toPortError(account: string, what: string, error: unknown): Error {
  if (error instanceof ClusterError || error instanceof TransientError) return error;
  if (error instanceof ConnectionFailure) {
    const message = `account ${account}: ${what}: ${withoutDiscoveryPrefix(error.message)}`;
    return error.untrusted ? new ClusterError(message, account) : new TransientError(message);
  }
  if (error instanceof ApiException) {
    const code = error.code;
    const status = parseStatus(error.body);
    const said = status.message ?? `HTTP ${code}`;
    const message = `account ${account}: ${what}: ${said}`;
    const ownershipConflict = (status.details?.causes ?? []).some(
      (c) => c.type === 'FieldManagerConflict' || c.reason === 'FieldManagerConflict',
    );
    if (code === 409 && (ownershipConflict || status.reason === 'AlreadyExists'))
      return new ClusterError(message, account, code, status.reason);
    if (code === 409 || code === 429 || code >= 500) return new TransientError(message);
    return new ClusterError(message, account, code, status.reason);
  }
  const text = error instanceof Error ? error.message : String(error);
  return new ClusterError(`account ${account}: ${what}: ${text}`, account);
}

/** client-node prefixes errors of its discovery request; the path in our message already says what was asked. */
function withoutDiscoveryPrefix(message: string): string {
  return message.replace(/^Failed to fetch resource metadata for \S+: /, '');
}

/** True for a 404 from the API server. */
export function isNotFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}

function parseStatus(body: unknown): Status {
  if (typeof body !== 'string') return typeof body === 'object' && body ? body : {};
  try {
    return JSON.parse(body) as Status;
  } catch {
    return { message: body.slice(0, 500) };
  }
}
