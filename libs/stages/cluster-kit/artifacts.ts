import { type TaskContext } from '@jibe/domain';
import { parseAllDocuments } from 'yaml';
import { type KubeObject } from './cluster.port';
import { isRecord } from './manifest';
import { StageFailure } from './stage-support';

/** An artifact as Spinnaker passes them around; Jibe produces `embedded/base64` ones (baked manifests). */
export interface Artifact {
  readonly type: string;
  readonly name?: string;
  readonly reference?: string;
  readonly id?: string;
  readonly sha256?: string;
  readonly [key: string]: unknown;
}

function artifactsIn(value: unknown): Artifact[] {
  if (!Array.isArray(value)) return [];
  return value.filter((a): a is Artifact => isRecord(a) && typeof a['type'] === 'string');
}

/**
 * Finds the artifact a deploy names, newest producer first: by `id`, `name` or `sha256` among the outputs of the
 * execution's stages and the trigger's artifacts (and their bound expected artifacts). With no id, the one
 * `embedded/base64` artifact the execution produced; several is an error asking for `manifestArtifactId`.
 */
export function findArtifact(context: TaskContext<object>, id: string | undefined): Artifact {
  const candidates: Artifact[] = [];
  const stages = [...context.stages]
    .filter((s) => s.id !== context.stage.id)
    .sort((a, b) => (b.startTime ?? 0) - (a.startTime ?? 0));
  for (const stage of stages) candidates.push(...artifactsIn(stage.outputs['artifacts']));
  candidates.push(...artifactsIn(context.execution.trigger['artifacts']));
  const expected = context.execution.trigger['resolvedExpectedArtifacts'];
  if (Array.isArray(expected)) {
    for (const e of expected) {
      if (isRecord(e) && isRecord(e['boundArtifact'])) {
        candidates.push({ ...(e['boundArtifact'] as Artifact), id: typeof e['id'] === 'string' ? e['id'] : undefined });
      }
    }
  }
  if (id) {
    const found = candidates.find((a) => a.id === id || a.name === id || a.sha256 === id);
    if (!found) {
      throw new StageFailure(
        `no artifact "${id}" in this execution (artifacts here: ${
          candidates.map((a) => a.name ?? a.id ?? a.type).join(', ') || 'none'
        }); produce it with bakeManifest upstream or pass it in the trigger`,
        'ARTIFACT_NOT_FOUND',
      );
    }
    return found;
  }
  const embedded = candidates.filter((a) => a.type === 'embedded/base64');
  const unique = [...new Map(embedded.map((a) => [a.sha256 ?? a.reference, a])).values()];
  if (unique.length === 1) return unique[0]!;
  throw new StageFailure(
    unique.length === 0
      ? 'source is artifact but no manifestArtifactId is set and no stage produced an embedded/base64 artifact'
      : `several artifacts could be deployed (${unique.map((a) => a.name).join(', ')}): set manifestArtifactId`,
    'ARTIFACT_NOT_FOUND',
  );
}

/** The manifests an embedded artifact holds (multi-document YAML or JSON). */
export function manifestsOf(artifact: Artifact): KubeObject[] {
  if (artifact.type !== 'embedded/base64') {
    throw new StageFailure(
      `artifact ${artifact.name ?? artifact.id ?? ''} is of type ${artifact.type}; Jibe deploys embedded/base64 artifacts (render with bakeManifest)`,
      'UNSUPPORTED_ARTIFACT',
    );
  }
  const text = Buffer.from(artifact.reference ?? '', 'base64').toString('utf8');
  const objects: KubeObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new StageFailure(
        `artifact ${artifact.name ?? ''} is not valid YAML: ${document.errors[0]!.message}`,
        'INVALID_MANIFEST',
      );
    }
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as KubeObject);
  }
  return objects;
}
