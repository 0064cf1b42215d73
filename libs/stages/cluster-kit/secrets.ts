import { createHash } from 'node:crypto';
import { type KubeObject } from './cluster.port';
import { ANNOTATIONS } from './labels';
import { clone, isRecord } from './manifest';
import { StageFailure } from './stage-support';

/**
 * Secret values never go into an execution (context, outputs, logs, the UI): what a stage keeps of a Secret is its
 * keys, each with this marker, and a sha256 of the content in {@link ANNOTATIONS.secretHash}.
 */
export const REDACTED = '<redacted by jibe>';

const VALUE_FIELDS = ['data', 'stringData'] as const;

/** A Secret carrying values (`data` or `stringData`), as opposed to one that only names itself. */
export function hasSecretValues(object: KubeObject): boolean {
  return object.kind === 'Secret' && VALUE_FIELDS.some((f) => isRecord(object[f]));
}

/**
 * Refuses Secrets with values unless the stage allows them: a Secret in pipeline JSON or an artifact is stored in
 * plain text with the pipeline and every execution of it.
 */
export function refuseSecrets(objects: readonly { object: KubeObject; where: string }[], allowSecrets: boolean): void {
  if (allowSecrets) return;
  const found = objects.filter(({ object }) => hasSecretValues(object)).map(({ where }) => where);
  if (found.length === 0) return;
  throw new StageFailure(
    `${found.join(', ')}: a Secret with data or stringData would be stored in plain text with the pipeline and its ` +
      'executions; keep secrets out of pipelines: create the Secret separately (or with ExternalSecret, ' +
      'SealedSecret) and reference it by name, or set allowSecrets: true on the stage',
    'SECRET_IN_PIPELINE',
  );
}

/** sha256 of a Secret's values (keys sorted): equal hashes, equal content. */
export function secretHash(object: KubeObject): string {
  const content = VALUE_FIELDS.map((f) => {
    const values = isRecord(object[f]) ? object[f] : {};
    return Object.keys(values)
      .sort()
      .map((k) => [k, values[k]]);
  });
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}

/** A copy fit to keep: each value replaced by {@link REDACTED}, the hash of the content in an annotation. */
export function redactSecret(object: KubeObject): KubeObject {
  if (!hasSecretValues(object)) return object;
  const copy = clone(object);
  copy.metadata.annotations = { ...copy.metadata.annotations, [ANNOTATIONS.secretHash]: secretHash(object) };
  for (const field of VALUE_FIELDS) {
    const values = copy[field];
    if (isRecord(values)) copy[field] = Object.fromEntries(Object.keys(values).map((k) => [k, REDACTED]));
  }
  return copy;
}

/** Whether a kept object still needs its values put back before it is applied. */
export function isRedacted(object: KubeObject): boolean {
  return (
    object.kind === 'Secret' &&
    VALUE_FIELDS.some((f) => {
      const values = object[f];
      return isRecord(values) && Object.values(values).some((v) => v === REDACTED);
    })
  );
}

/**
 * Puts the values back into a redacted Secret from the manifest it came from, read again at apply time; fails when
 * that manifest changed since the plan (its hash differs) rather than apply other values than were planned.
 */
export function unredactSecret(redacted: KubeObject, source: KubeObject | undefined, where: string): KubeObject {
  const planned = redacted.metadata.annotations?.[ANNOTATIONS.secretHash];
  if (!source || !hasSecretValues(source) || secretHash(source) !== planned) {
    throw new StageFailure(
      `${where}: the Secret's values changed or disappeared since the deploy was planned; run the pipeline again`,
      'SECRET_CHANGED',
    );
  }
  const copy = clone(redacted);
  for (const field of VALUE_FIELDS) {
    if (isRecord(source[field])) copy[field] = clone(source[field]);
    else delete copy[field];
  }
  return copy;
}
