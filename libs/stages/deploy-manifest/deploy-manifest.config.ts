import { EXPRESSION, type StageTypes } from '@jibe/domain';
import { z } from 'zod';
import { kubeObjectSchema } from '../cluster-kit/cluster.port';
import { manifestSchema } from '../cluster-kit/manifest-schema';
import { count, kubernetesStageKeys } from '../cluster-kit/stage-support';
import { deployPlanSchema } from './deploy-plan';

/** `bluegreen` is Spinnaker's newer name for red/black (docs/spinnaker.md#traffic-strategies); the same here. */
export const strategySchema = z.enum(['none', 'redblack', 'bluegreen', 'highlander']);

/**
 * deployManifest's config: Spinnaker's field names (DeployManifestContext), loose so exported pipelines load with
 * the keys Jibe ignores (`relationships`, `requiredArtifactIds`, `manifestArtifactAccount`, …).
 */
export const deployManifestConfig = z
  .looseObject({
    ...kubernetesStageKeys,
    source: z.enum(['text', 'artifact']).default('text'),
    manifests: z
      .union([z.array(manifestSchema), z.string().regex(EXPRESSION, 'expected a list of manifests')])
      .optional(),
    manifestArtifactId: z.string().min(1).optional(),
    manifestArtifact: z
      .looseObject({ type: z.string(), reference: z.string().optional(), name: z.string().optional() })
      .optional(),
    namespaceOverride: z.string().optional(),
    /**
     * Lets Secrets with `data`/`stringData` through (they are then in the pipeline or artifact in plain text);
     * even so the plan and outputs keep only their keys and a hash, and the values are read again when applied.
     */
    allowSecrets: z.boolean().default(false),
    moniker: z.looseObject({ app: z.string().optional(), cluster: z.string().optional() }).optional(),
    trafficManagement: z
      .looseObject({
        enabled: z.boolean().optional(),
        options: z
          .looseObject({
            enableTraffic: z.boolean().optional(),
            namespace: z.string().optional(),
            services: z.array(z.string()).default([]),
            strategy: strategySchema.optional(),
            maxVersionsToKeep: count.optional(),
            delayBeforeScaleDownSeconds: count.optional(),
            /** false keeps older versions running (scaled) after the switch, for an instant rollback. */
            scaleDown: z.boolean().optional(),
          })
          .default({ services: [] }),
      })
      .optional(),
  })
  .superRefine((config, issues) => {
    if (config.source === 'text' && Array.isArray(config.manifests) && config.manifests.length === 0) {
      issues.addIssue({ code: 'custom', path: ['manifests'], message: 'at least one manifest when source is text' });
    }
    if (config.source === 'text' && config.manifests === undefined) {
      issues.addIssue({ code: 'custom', path: ['manifests'], message: 'required when source is text' });
    }
  });

export type DeployManifestConfig = z.output<typeof deployManifestConfig>;

/** Where the plan lives in the stage context. */
export const PLAN_KEY = 'deploy.plan';

/**
 * What deployManifest's tasks keep between runs (besides each wave's and wait's bookkeeping, keys made at run
 * time: `deploy.step<i>.refs`, `deploy.step<i>.done`, `<wait>.startedAt`, …).
 */
export const deployManifestState = z.object({
  [PLAN_KEY]: deployPlanSchema,
  /** What each traffic Service selected before the switch (null: no version), for rollback. */
  'deploy.previousVersions': z.record(z.string(), z.string().nullable()),
  'deploy.switchedAt': z.number(),
});

/** deployManifest's outputs, by Spinnaker's names where Spinnaker has them. */
export const deployManifestOutputs = z.object({
  manifests: z.array(kubeObjectSchema),
  'outputs.manifestNamesByNamespace': z.record(z.string(), z.array(z.string())),
  deployedServerGroups: z.array(
    z.object({
      account: z.string(),
      namespace: z.string(),
      kind: z.string(),
      name: z.string(),
      cluster: z.string(),
      version: z.string(),
      reused: z.boolean(),
    }),
  ),
  hpaManagedReplicas: z.array(z.string()),
  skippedHooks: z.array(z.string()),
  trafficSwitched: z.boolean(),
  previousServerGroups: z.array(
    z.object({
      service: z.string(),
      namespace: z.string(),
      cluster: z.string(),
      version: z.string().nullable(),
      serverGroup: z.string().nullable(),
    }),
  ),
  scaledDownServerGroups: z.array(z.string()),
  deletedServerGroups: z.array(z.string()),
});

export type DeployManifest = StageTypes<
  typeof deployManifestConfig,
  typeof deployManifestState,
  typeof deployManifestOutputs
>;
