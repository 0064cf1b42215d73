import { z } from 'zod';
import { type ClusterPort } from './cluster.port';
import { canonicalKind, parseKindName } from './manifest';
import { resolveDynamicTarget, type ServerGroup } from './server-groups';
import { criteria, StageFailure } from './stage-support';

/**
 * How Spinnaker's manifest stages name what they act on: statically (`manifestName: "deployment web"`) or
 * dynamically (`mode: dynamic`, `cluster: "replicaSet helloworld"`, `criteria: second_newest`), in `location`.
 */
export const targetKeys = {
  manifestName: z.string().optional(),
  mode: z.enum(['static', 'dynamic']).optional(),
  cluster: z.string().optional(),
  criteria: criteria.optional(),
  /** Spinnaker's kind for dynamic targets (`replicaSet`); the kind in `cluster` wins. */
  kind: z.string().optional(),
};

type TargetConfig = {
  manifestName?: string | undefined;
  mode?: 'static' | 'dynamic' | undefined;
  cluster?: string | undefined;
  criteria?: z.infer<typeof criteria> | undefined;
  kind?: string | undefined;
};

function isDynamic(config: TargetConfig): boolean {
  return (
    config.mode === 'dynamic' ||
    (config.mode === undefined && config.cluster !== undefined && config.criteria !== undefined)
  );
}

/** Save-time checks of a target, with the path of the key to fix. */
export function checkTarget(config: TargetConfig, issues: z.RefinementCtx, required = true): void {
  if (isDynamic(config)) {
    if (!config.cluster?.trim())
      issues.addIssue({ code: 'custom', path: ['cluster'], message: 'required when mode is dynamic' });
    if (!config.criteria)
      issues.addIssue({ code: 'custom', path: ['criteria'], message: 'required when mode is dynamic' });
    return;
  }
  if (config.manifestName === undefined) {
    if (required)
      issues.addIssue({
        code: 'custom',
        path: ['manifestName'],
        message: 'required (e.g. "deployment web"), or mode dynamic with cluster and criteria',
      });
    return;
  }
  if (!parseKindName(config.manifestName) && !config.manifestName.includes('${')) {
    issues.addIssue({
      code: 'custom',
      path: ['manifestName'],
      message: `must be "<kind> <name>", e.g. "deployment web"; got "${config.manifestName}"`,
    });
  }
}

export function hasTarget(config: TargetConfig): boolean {
  return isDynamic(config) || config.manifestName !== undefined;
}

/** The object a target names, in `namespace`; a dynamic target also gives the server group it chose. */
export async function resolveTarget(
  port: ClusterPort,
  account: string,
  namespace: string,
  config: TargetConfig,
): Promise<{ kind: string; name: string; namespace: string; serverGroup?: ServerGroup }> {
  if (isDynamic(config)) {
    const parsed = parseKindName(config.cluster);
    const kind = parsed?.kind ?? (config.kind ? canonicalKind(config.kind) : undefined);
    const clusterName = parsed?.name ?? config.cluster?.trim();
    if (!kind || !clusterName || !config.criteria) {
      throw new StageFailure(
        `cluster must be "<kind> <name>", e.g. "replicaSet web"; got "${config.cluster}"`,
        'INVALID_CONFIG',
      );
    }
    const group = await resolveDynamicTarget(port, account, {
      kind,
      cluster: clusterName,
      namespace,
      criteria: config.criteria,
    });
    return { kind: group.kind, name: group.name, namespace, serverGroup: group };
  }
  const parsed = parseKindName(config.manifestName);
  if (!parsed) {
    throw new StageFailure(
      `manifestName must be "<kind> <name>", e.g. "deployment web"; got "${config.manifestName}"`,
      'INVALID_CONFIG',
    );
  }
  return { ...parsed, namespace };
}
