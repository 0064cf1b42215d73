import { createServer, request as httpRequest, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type AccountConfig, accountsSchema } from '@jibe/config';
import { type KubeSim, startKubeSim } from '@jibe/kube-sim';
import { ClusterError } from '@jibe/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountRegistry } from './account-registry';
import { KubernetesClusterAdapter } from './kubernetes-cluster.adapter';
import { rejection } from '../../test/support/rejection';

/**
 * API groups the simulator does not serve, as a real cluster's discovery lists them: cluster-scoped kinds that a
 * hard-coded list of cluster-scoped kinds never had (RuntimeClass, ValidatingAdmissionPolicyBinding, a CRD's
 * ClusterIssuer) and a namespaced CRD kind beside one.
 */
const EXTRA_DISCOVERY: Record<string, { name: string; kind: string; namespaced: boolean }[]> = {
  '/apis/node.k8s.io/v1': [{ name: 'runtimeclasses', kind: 'RuntimeClass', namespaced: false }],
  '/apis/admissionregistration.k8s.io/v1': [
    { name: 'validatingadmissionpolicybindings', kind: 'ValidatingAdmissionPolicyBinding', namespaced: false },
  ],
  '/apis/cert-manager.io/v1': [
    { name: 'clusterissuers', kind: 'ClusterIssuer', namespaced: false },
    { name: 'issuers', kind: 'Issuer', namespaced: true },
  ],
};

/** A proxy in front of a simulated cluster that adds {@link EXTRA_DISCOVERY} and records every request. */
async function discoveryProxy(target: string): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://proxy').pathname;
    requests.push(`${req.method} ${path}`);
    const extra = EXTRA_DISCOVERY[path];
    if (req.method === 'GET' && extra) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: path.slice('/apis/'.length),
          resources: extra.map((r) => ({ ...r, singularName: r.kind.toLowerCase(), verbs: ['get', 'list', 'patch'] })),
        }),
      );
      return;
    }
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const DISCOVERY = /^GET \/(api\/v1|apis\/[^/]+\/[^/]+)$/;

describe('scope of a kind from the cluster’s API discovery', () => {
  let sim: KubeSim;
  let proxy: Awaited<ReturnType<typeof discoveryProxy>>;
  let registry: AccountRegistry;
  let adapter: KubernetesClusterAdapter;

  beforeAll(async () => {
    sim = await startKubeSim({ clusters: [{ name: 'sim-scope', clock: 'manual' }] });
    proxy = await discoveryProxy(sim.cluster('sim-scope').url);
    const config: AccountConfig[] = accountsSchema.parse([
      {
        name: 'team-a',
        kind: 'simulated',
        cluster: 'with-crds',
        allowedNamespaces: ['team-a-*'],
        defaultNamespace: 'team-a-web',
      },
    ]);
    registry = new AccountRegistry(config, { simulatedClusters: { url: () => proxy.url } });
    adapter = new KubernetesClusterAdapter(registry);
  });

  afterAll(async () => {
    await registry.close();
    proxy.server.close();
    await sim.stop();
  });

  it('refuses cluster-scoped kinds of any group, whatever metadata.namespace says, before any write', async () => {
    proxy.requests.length = 0;
    sim.cluster('sim-scope').clearRequests();
    const inTeamA = { namespace: 'team-a-web' };
    const calls = [
      adapter.apply('team-a', [
        { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'gvisor', ...inTeamA } },
      ]),
      adapter.apply('team-a', [
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicyBinding',
          metadata: { name: 'deny-nothing', ...inTeamA },
        },
      ]),
      adapter.create('team-a', { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'ca' } }),
      adapter.get('team-a', { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', name: 'ca', ...inTeamA }),
      adapter.patch('team-a', { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', name: 'ca' }, {}, 'merge'),
      adapter.delete('team-a', { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', name: 'ca', ...inTeamA }),
      adapter.list('team-a', { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', ...inTeamA }),
    ];
    const errors = await Promise.all(calls.map((c) => rejection(c)));
    for (const error of errors) expect(error).toBeInstanceOf(ClusterError);
    expect(errors[0]!.message).toBe(
      'account team-a may not touch cluster-scoped RuntimeClass "gvisor": its allowed namespaces (team-a-*) do not include "*"',
    );
    expect(errors[1]!.message).toContain('cluster-scoped ValidatingAdmissionPolicyBinding "deny-nothing"');
    for (const error of errors.slice(2)) expect(error.message).toContain('cluster-scoped ClusterIssuer');
    expect(proxy.requests.filter((r) => !DISCOVERY.test(r))).toEqual([]);
    expect(
      sim
        .cluster('sim-scope')
        .requests()
        .filter((r) => r.method !== 'GET'),
    ).toEqual([]);
  });

  it('refuses a kind the cluster does not serve, naming the kind and the account', async () => {
    proxy.requests.length = 0;
    const unknownGroup = await rejection(
      adapter.apply('team-a', [{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }]),
    );
    const unknownCoreKind = await rejection(
      adapter.get('team-a', { apiVersion: 'v1', kind: 'Gadget', name: 'g', namespace: 'team-a-web' }),
    );
    for (const error of [unknownGroup, unknownCoreKind]) expect(error).toBeInstanceOf(ClusterError);
    expect(unknownGroup.message).toBe(
      'account team-a: the cluster does not serve kind Widget in example.com/v1, so whether it is namespaced is unknown and Jibe refuses it',
    );
    expect(unknownCoreKind.message).toContain('kind Gadget in v1');
    expect(proxy.requests.filter((r) => !DISCOVERY.test(r))).toEqual([]);
  });

  it('sends a namespaced custom kind to its allowed namespace, and refuses it elsewhere', async () => {
    proxy.requests.length = 0;
    const issuer = { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'self-signed' } };
    const refused = await rejection(
      adapter.apply('team-a', [{ ...issuer, metadata: { ...issuer.metadata, namespace: 'kube-system' } }]),
    );
    expect(refused.message).toBe('account team-a may not touch namespace "kube-system" (allowed: team-a-*)');
    expect(proxy.requests.filter((r) => !DISCOVERY.test(r))).toEqual([]);
    // The simulator has no cert-manager, so it answers 404; what matters is where the request went.
    await rejection(adapter.apply('team-a', [issuer]));
    expect(proxy.requests.filter((r) => !DISCOVERY.test(r))).toEqual([
      'PATCH /apis/cert-manager.io/v1/namespaces/team-a-web/issuers/self-signed',
    ]);
  });
});
