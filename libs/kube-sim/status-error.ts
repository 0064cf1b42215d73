import { type ResourceType, ResourceRegistry } from './resource-registry';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

/** A Kubernetes `Status` failure; thrown anywhere in the simulator and rendered as the response body. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: {
      name?: string;
      group?: string;
      kind?: string;
      causes?: StatusCause[];
      retryAfterSeconds?: number;
    },
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }

  static notFound(r: ResourceType, name: string): StatusError {
    return new StatusError(404, 'NotFound', `${ResourceRegistry.qualifiedName(r)} "${name}" not found`, {
      name,
      group: r.group,
      kind: r.plural,
    });
  }

  static alreadyExists(r: ResourceType, name: string): StatusError {
    return new StatusError(409, 'AlreadyExists', `${ResourceRegistry.qualifiedName(r)} "${name}" already exists`, {
      name,
      group: r.group,
      kind: r.plural,
    });
  }

  static conflict(r: ResourceType, name: string): StatusError {
    return new StatusError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${ResourceRegistry.qualifiedName(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, group: r.group, kind: r.plural },
    );
  }

  static invalid(r: ResourceType, name: string, causes: StatusCause[]): StatusError {
    const kind = r.group ? `${r.kind}.${r.group}` : r.kind;
    const text = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
    return new StatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${text}`, {
      name,
      group: r.group,
      kind: r.kind,
      causes: causes.map((c) => ({ reason: c.reason ?? 'FieldValueInvalid', message: c.message, field: c.field })),
    });
  }

  static badRequest(message: string): StatusError {
    return new StatusError(400, 'BadRequest', message);
  }
}
