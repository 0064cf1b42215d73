import { createHash } from 'node:crypto';
import { type TaskContext } from '@jibe/domain';
import { findArtifact, manifestsOf } from '../cluster-kit/artifacts';
import { type ClusterPort, type KubeObject } from '../cluster-kit/cluster.port';
import { ANNOTATIONS, LABELS, MANAGED_BY_JIBE } from '../cluster-kit/labels';
import {
  canonicalKind,
  clone,
  deployedBy,
  describeRef,
  isRecord,
  loadBalancersOf,
  podTemplateOf,
  replicasOf,
  SCALABLE_KINDS,
  SERVER_GROUP_KINDS,
  withAnnotations,
  withLabels,
} from '../cluster-kit/manifest';
import { checkManifest } from '../cluster-kit/manifest-schema';
import { hasSecretValues, redactSecret, refuseSecrets } from '../cluster-kit/secrets';
import {
  formatVersion,
  listServerGroups,
  nextSequence,
  parseVersionedName,
  type ServerGroup,
} from '../cluster-kit/server-groups';
import { clusterPortOf, clusterTask, StageFailure, toCount } from '../cluster-kit/stage-support';
import { NO_VERSION, selectedVersion, serviceName } from '../cluster-kit/traffic';
import { type DeployManifest, type DeployManifestConfig, PLAN_KEY } from './deploy-manifest.config';
import { type DeployPlan, isNamespaced, type PlannedServerGroup, planSteps, type SecretSource } from './deploy-plan';

/** Red/black waits this long after the switch before scaling the old version down (kube-proxy lag; Argo Rollouts: 30 s). */
const DEFAULT_SCALE_DOWN_DELAY_S = 30;

/**
 * Decides everything once: the manifests (text or artifact), their namespaces and labels, the version of each
 * server group, replicas left to HPAs, and the order of application. Safe to run twice: a plan already made is
 * kept, so a re-run never picks another version number.
 */
export const resolveManifestsTask = clusterTask<DeployManifest>('resolveManifests', async (context) => {
  const config = context.stage.context;
  if (config[PLAN_KEY]) return { status: 'SUCCEEDED' };
  const plan = await buildPlan(context, config, clusterPortOf(context));
  return { status: 'SUCCEEDED', context: { [PLAN_KEY]: plan } };
});

/** The manifests as given (the stage's text or the artifact), read again at apply time for Secrets' values. */
export function sourceManifests(context: TaskContext<object>, config: DeployManifestConfig): unknown[] {
  if (config.source === 'artifact') {
    const artifact =
      config.manifestArtifact?.reference !== undefined
        ? { ...config.manifestArtifact, type: config.manifestArtifact.type }
        : findArtifact(context, config.manifestArtifactId);
    return manifestsOf(artifact);
  }
  if (!Array.isArray(config.manifests)) {
    throw new StageFailure(`manifests must be a list of manifests, got ${typeof config.manifests}`, 'INVALID_MANIFEST');
  }
  return config.manifests;
}

async function buildPlan(
  context: TaskContext<object>,
  config: DeployManifestConfig,
  port: ClusterPort,
): Promise<DeployPlan> {
  const account = config.account;
  const raw = sourceManifests(context, config);
  const problems = raw.flatMap((m, i) => checkManifest(m, `manifests[${i}]`));
  if (problems.length > 0) {
    throw new StageFailure(`invalid manifests: ${problems.join('; ')}`, 'INVALID_MANIFEST', [
      ...problems.map((p) => ({ path: p.split(':')[0]!, message: p.slice(p.indexOf(':') + 2) })),
    ]);
  }
  if (raw.length === 0) throw new StageFailure('nothing to deploy: no manifests', 'INVALID_MANIFEST');

  const defaultNamespace =
    config.namespaceOverride?.trim() || config.namespace?.trim() || port.defaultNamespace(account);
  const traffic = config.trafficManagement;
  const trafficOn = traffic !== undefined && traffic.enabled !== false;
  const options = traffic?.options ?? { services: [] };
  const requested = trafficOn ? (options.strategy ?? 'none') : 'none';
  const strategy = requested === 'bluegreen' ? 'redblack' : requested;
  const enableTraffic = !trafficOn || options.enableTraffic !== false;
  const optionServices = trafficOn
    ? options.services.map((s, i) => serviceName(s, `trafficManagement.options.services[${i}]`))
    : [];

  const objects = raw.map((m, index) => {
    const object = clone(m as KubeObject);
    object.kind = canonicalKind(object.kind);
    if (isNamespaced(object.kind)) {
      object.metadata.namespace = config.namespaceOverride?.trim() || object.metadata.namespace || defaultNamespace;
    } else {
      delete object.metadata.namespace;
    }
    const base = object.metadata.name ?? object.metadata.generateName ?? '';
    withLabels(object, {
      [LABELS.managedBy]: MANAGED_BY_JIBE,
      [LABELS.application]: context.execution.application,
      [LABELS.cluster]: config.moniker?.cluster ?? parseVersionedName(base)?.cluster ?? base,
    });
    withAnnotations(object, { [ANNOTATIONS.deployedBy]: deployedBy(context.execution.id, context.stage.id) });
    return { object, index, where: `manifests[${index}] (${describeRef({ kind: object.kind, name: base })})` };
  });
  refuseSecrets(objects, config.allowSecrets);

  const versioned = objects.filter(({ object }) => isVersioned(object, strategy));
  if (strategy !== 'none' && versioned.length === 0) {
    throw new StageFailure(
      `strategy ${strategy} needs a Deployment or ReplicaSet among the manifests`,
      'INVALID_MANIFEST',
    );
  }
  if (optionServices.length > 0 && versioned.length > 1) {
    throw new StageFailure(
      `trafficManagement.options.services needs exactly one Deployment or ReplicaSet, found ${versioned
        .map((v) => v.object.metadata.name)
        .join(', ')}`,
      'INVALID_MANIFEST',
    );
  }

  const hpas = await horizontalPodAutoscalers(
    port,
    account,
    objects.map((o) => o.object),
  );
  const hpaManaged: string[] = [];
  const serverGroups: PlannedServerGroup[] = [];
  const heldServices: KubeObject[] = [];

  for (const { object } of objects) {
    if (!SCALABLE_KINDS.has(object.kind) || versioned.some((v) => v.object === object)) continue;
    if (!targetedByHpa(hpas, object, object.metadata.name ?? '')) continue;
    // Re-stating the live count keeps Jibe from fighting the HPA without SSA dropping the field (which resets it to 1).
    const live = await port.get(account, {
      kind: object.kind,
      name: object.metadata.name ?? '',
      namespace: object.metadata.namespace,
    });
    if (live && object.spec) object.spec['replicas'] = replicasOf(live);
    hpaManaged.push(describeRef({ kind: object.kind, name: object.metadata.name ?? '' }));
  }

  for (const { object } of versioned) {
    const base = object.metadata.name ?? '';
    const clusterName = parseVersionedName(base)?.cluster ?? base;
    const namespace = object.metadata.namespace ?? defaultNamespace;
    const groups = await listServerGroups(port, account, { kind: object.kind, cluster: clusterName, namespace });
    const hash = contentHash(object);
    const newest = groups[groups.length - 1];
    const reused = newest !== undefined && newest.object.metadata.annotations?.[ANNOTATIONS.manifestHash] === hash;
    const sequence = reused ? newest.sequence : nextSequence(groups);
    const version = formatVersion(sequence);
    const services = [
      ...new Set([
        ...optionServices,
        ...loadBalancersOf(object).map((s, i) => serviceName(s, `${ANNOTATIONS.loadBalancers}[${i}]`)),
      ]),
    ];
    object.metadata.name = `${clusterName}-${version}`;
    withLabels(object, { [LABELS.cluster]: clusterName, [LABELS.version]: version });
    withAnnotations(object, {
      [ANNOTATIONS.manifestHash]: hash,
      ...(services.length > 0
        ? { [ANNOTATIONS.loadBalancers]: JSON.stringify(services.map((s) => `service ${s}`)) }
        : {}),
    });
    pinPods(object, { [LABELS.cluster]: clusterName, [LABELS.version]: version });
    if (targetedByHpa(hpas, object, clusterName)) {
      // The new version starts with the capacity the HPA gave the live one (Spinnaker's use-source-capacity).
      const source = reused ? newest : groups[groups.length - 1];
      if (source && object.spec) object.spec['replicas'] = replicasOf(source.object);
      for (const hpa of objects.map((o) => o.object).filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
        const ref = hpa.spec?.['scaleTargetRef'];
        if (isRecord(ref) && canonicalKind(String(ref['kind'])) === object.kind && ref['name'] === clusterName) {
          ref['name'] = object.metadata.name;
        }
      }
      hpaManaged.push(describeRef({ kind: object.kind, name: object.metadata.name }));
    }
    const trafficNamespace = options.namespace?.trim() || namespace;
    const maxVersions = options.maxVersionsToKeep ?? object.metadata.annotations?.[ANNOTATIONS.maxVersionHistory];
    serverGroups.push({
      kind: object.kind,
      name: object.metadata.name,
      namespace,
      cluster: clusterName,
      version,
      sequence,
      reused,
      services,
      trafficNamespace,
      maxVersionsToKeep:
        maxVersions !== undefined
          ? Math.max(1, toCount(maxVersions, 'trafficManagement.options.maxVersionsToKeep'))
          : strategy === 'redblack'
            ? 2
            : null,
    });
    await holdTrafficServices(port, account, objects, heldServices, {
      services,
      namespace: trafficNamespace,
      cluster: clusterName,
      version: enableTraffic ? version : NO_VERSION,
      groups,
    });
  }

  // The plan is kept in the execution: Secrets go in it redacted, their values are read again when applied.
  const secretSources: SecretSource[] = objects
    .filter(({ object }) => hasSecretValues(object))
    .map(({ object, index }) => ({
      name: secretKey(object),
      namespace: object.metadata.namespace,
      index,
    }));
  const { steps, skippedHooks } = planSteps(
    objects
      .filter(({ object }) => !heldServices.includes(object))
      .map(({ object, where }) => ({ object: redactSecret(object), where })),
  );
  return {
    account,
    strategy,
    enableTraffic,
    scaleDown: options.scaleDown !== false,
    delayBeforeScaleDownMs:
      toCount(options.delayBeforeScaleDownSeconds ?? DEFAULT_SCALE_DOWN_DELAY_S, 'delayBeforeScaleDownSeconds') * 1000,
    steps,
    heldServices,
    serverGroups,
    skippedHooks,
    hpaManaged,
    secretSources,
  };
}

/** How a Secret of the plan is found among its sources: its name (or generateName) and namespace. */
export function secretKey(object: KubeObject): string {
  return object.metadata.name ?? `${object.metadata.generateName ?? ''}*`;
}

/** ReplicaSets are versioned as in Spinnaker; Deployments when a strategy needs versions; the annotation overrides. */
function isVersioned(object: KubeObject, strategy: string): boolean {
  if (!SERVER_GROUP_KINDS.has(object.kind) || !object.metadata.name) return false;
  const forced = object.metadata.annotations?.[ANNOTATIONS.versioned];
  if (forced === 'true' || forced === 'false') return forced === 'true';
  return object.kind === 'ReplicaSet' || strategy !== 'none';
}

/** The version's pods carry the cluster and version labels, and its selector requires them, so versions never share pods. */
function pinPods(object: KubeObject, labels: Record<string, string>): void {
  const spec = (object.spec ??= {});
  const selector = isRecord(spec['selector']) ? spec['selector'] : (spec['selector'] = {});
  selector['matchLabels'] = { ...(isRecord(selector['matchLabels']) ? selector['matchLabels'] : {}), ...labels };
  const template = podTemplateOf(object) ?? (spec['template'] = {});
  template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...labels } };
}

/** Stable JSON (sorted keys) of the manifest as deployed, minus what changes per run. */
function contentHash(object: KubeObject): string {
  const copy = clone(object);
  delete copy.metadata.annotations?.[ANNOTATIONS.deployedBy];
  return createHash('sha256').update(stableJson(copy)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

interface Hpa {
  namespace: string;
  kind: string;
  name: string;
}

async function horizontalPodAutoscalers(
  port: ClusterPort,
  account: string,
  objects: readonly KubeObject[],
): Promise<Hpa[]> {
  const found: Hpa[] = [];
  const add = (hpa: KubeObject) => {
    const ref = hpa.spec?.['scaleTargetRef'];
    if (isRecord(ref) && typeof ref['kind'] === 'string' && typeof ref['name'] === 'string') {
      found.push({ namespace: hpa.metadata.namespace ?? '', kind: canonicalKind(ref['kind']), name: ref['name'] });
    }
  };
  objects.filter((o) => o.kind === 'HorizontalPodAutoscaler').forEach(add);
  const namespaces = new Set(objects.filter((o) => SCALABLE_KINDS.has(o.kind)).map((o) => o.metadata.namespace ?? ''));
  for (const namespace of namespaces) {
    for (const hpa of await port.list(account, { kind: 'HorizontalPodAutoscaler', namespace })) add(hpa);
  }
  return found;
}

function targetedByHpa(hpas: readonly Hpa[], object: KubeObject, clusterName: string): boolean {
  return hpas.some(
    (h) =>
      h.namespace === object.metadata.namespace &&
      h.kind === object.kind &&
      (h.name === clusterName ||
        h.name === object.metadata.name ||
        parseVersionedName(h.name)?.cluster === clusterName),
  );
}

/**
 * A traffic Service among the manifests must not move traffic when its wave is applied: if it already pins a
 * version it keeps pinning that one (the switch moves it later); if it does not exist yet it is held back and
 * created at the switch, already pointing at the new, stable version.
 */
async function holdTrafficServices(
  port: ClusterPort,
  account: string,
  objects: readonly { object: KubeObject }[],
  held: KubeObject[],
  target: { services: readonly string[]; namespace: string; cluster: string; version: string; groups: ServerGroup[] },
): Promise<void> {
  for (const name of target.services) {
    const entry = objects.find(
      ({ object }) =>
        object.kind === 'Service' && object.metadata.name === name && object.metadata.namespace === target.namespace,
    );
    if (!entry) continue;
    const service = entry.object;
    const spec = (service.spec ??= {});
    const selector = isRecord(spec['selector']) ? (spec['selector'] as Record<string, string>) : {};
    const live = await port.get(account, { kind: 'Service', name, namespace: target.namespace });
    const liveSelector = isRecord(live?.spec?.['selector']) ? (live.spec['selector'] as Record<string, string>) : {};
    const liveVersion = live ? selectedVersion(liveSelector, target.cluster) : undefined;
    if (liveVersion !== undefined) {
      spec['selector'] = { ...selector, [LABELS.cluster]: target.cluster, [LABELS.version]: liveVersion };
    } else {
      spec['selector'] = { ...selector, [LABELS.cluster]: target.cluster, [LABELS.version]: target.version };
      held.push(service);
    }
  }
}
