import { z } from 'zod';
import { type KubeObject } from './cluster.port';
import { isRecord } from './manifest';

/**
 * A Kubernetes manifest as a pipeline holds it: apiVersion, kind and a metadata name (or generateName) are required;
 * everything else is the API server's business. Used at save time, so mistakes are reported as
 * `stages[i].manifests[j].kind: required` before anything runs.
 */
export const manifestSchema = z
  .looseObject({
    apiVersion: z.string().min(1, 'must not be empty'),
    kind: z.string().min(1, 'must not be empty'),
    metadata: z.looseObject({
      name: z.string().min(1, 'must not be empty').optional(),
      generateName: z.string().min(1, 'must not be empty').optional(),
      namespace: z.string().optional(),
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    }),
  })
  .refine((m) => m.metadata.name !== undefined || m.metadata.generateName !== undefined, {
    message: 'required (or metadata.generateName)',
    path: ['metadata', 'name'],
  });

/**
 * The same rules for manifests that only exist at run time (rendered, from an artifact, from an expression):
 * one message per problem, naming where the manifest came from.
 */
export function checkManifest(value: unknown, where: string): string[] {
  if (!isRecord(value)) return [`${where}: not an object`];
  const problems: string[] = [];
  if (typeof value['apiVersion'] !== 'string' || value['apiVersion'] === '')
    problems.push(`${where}: apiVersion: required`);
  if (typeof value['kind'] !== 'string' || value['kind'] === '') problems.push(`${where}: kind: required`);
  const metadata = value['metadata'];
  if (!isRecord(metadata)) problems.push(`${where}: metadata: required`);
  else if (typeof metadata['name'] !== 'string' && typeof metadata['generateName'] !== 'string') {
    problems.push(`${where}: metadata.name: required`);
  } else if (typeof metadata['name'] === 'string' && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(metadata['name'])) {
    problems.push(`${where}: metadata.name: "${metadata['name']}" is not a valid Kubernetes name`);
  }
  return problems;
}

export function isManifest(value: unknown): value is KubeObject {
  return checkManifest(value, '').length === 0;
}
