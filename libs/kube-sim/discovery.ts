import { type ResourceRegistry, type ResourceType } from './resource-registry';

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
}

/** `/version`. kubectl's Google dispatcher picks the kubectl binary matching `minor`, so keep it in 27..33. */
export function versionBody(minor: string): Record<string, string> {
  return {
    major: '1',
    minor,
    gitVersion: `v1.${minor}.0-kube-sim`,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export function coreVersions(): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }],
  };
}

export function groupList(registry: ResourceRegistry): Record<string, unknown> {
  const groups = new Map<string, string[]>();
  for (const gv of registry.groupVersions()) {
    if (!gv.group) continue;
    groups.set(gv.group, [...(groups.get(gv.group) ?? []), gv.version]);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => groupBody(name, versions)),
  };
}

function groupBody(name: string, versions: string[]): Record<string, unknown> {
  const first = versions[0] ?? 'v1';
  return {
    name,
    versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${name}/${first}`, version: first },
  };
}

export function group(registry: ResourceRegistry, name: string): Record<string, unknown> | undefined {
  const versions = registry.groupVersions().filter((gv) => gv.group === name);
  if (versions.length === 0) return undefined;
  return {
    kind: 'APIGroup',
    apiVersion: 'v1',
    ...groupBody(
      name,
      versions.map((v) => v.version),
    ),
  };
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function resourceEntries(r: ResourceType): Record<string, unknown>[] {
  const main: Record<string, unknown> = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.kind === 'Namespace' ? VERBS.filter((v) => v !== 'deletecollection') : VERBS,
    storageVersionHash: r.kind,
  };
  if (r.shortNames) main.shortNames = r.shortNames;
  if (r.categories) main.categories = r.categories;
  const out = [main];
  if (r.subresources.includes('status'))
    out.push({
      name: `${r.plural}/status`,
      singularName: '',
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ['get', 'patch', 'update'],
    });
  if (r.subresources.includes('scale'))
    out.push({
      name: `${r.plural}/scale`,
      singularName: '',
      namespaced: r.namespaced,
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
      verbs: ['get', 'patch', 'update'],
    });
  if (r.kind === 'Pod') out.push({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
  return out;
}

export function resourceList(registry: ResourceRegistry, apiVersion: string): Record<string, unknown> | undefined {
  const resources = registry.inGroupVersion(apiVersion);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersion,
    resources: resources.flatMap(resourceEntries),
  };
}

/**
 * `/openapi/v3`: just enough for kubectl to see that the server validates fields itself (`fieldValidation` on the
 * PATCH of each kind), so `kubectl apply` with default validation sends `fieldValidation=Strict` instead of
 * downloading schemas (cli-runtime query_param_verifier_v3.go). No component schemas on purpose: with none,
 * client-side apply builds strategic merge patches from kubectl's compiled-in types.
 */
export function openApiIndex(registry: ResourceRegistry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const gv of registry.groupVersions()) {
    const prefix = gv.group ? `apis/${gv.apiVersion}` : `api/${gv.apiVersion}`;
    paths[prefix] = { serverRelativeURL: `/openapi/v3/${prefix}?hash=${gv.apiVersion.replace(/[^a-z0-9]/g, '')}sim` };
  }
  return { paths };
}

export function openApiDocument(registry: ResourceRegistry, apiVersion: string): Record<string, unknown> | undefined {
  const resources = registry.inGroupVersion(apiVersion);
  if (resources.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const prefix = resources[0]?.group ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  for (const r of resources) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const path = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}/{name}` : `${prefix}/${r.plural}/{name}`;
    const params = [
      { name: 'dryRun', in: 'query', schema: { type: 'string' } },
      { name: 'fieldManager', in: 'query', schema: { type: 'string' } },
      { name: 'fieldValidation', in: 'query', schema: { type: 'string' } },
      { name: 'force', in: 'query', schema: { type: 'boolean' } },
    ];
    const op = (action: string): Record<string, unknown> => ({
      operationId: `${action}${r.kind}`,
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
      parameters: params,
      responses: { '200': { description: 'OK' } },
    });
    paths[path] = { get: op('get'), put: op('put'), patch: op('patch'), delete: op('delete') };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0-kube-sim' },
    paths,
  };
}
