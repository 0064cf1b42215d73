import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AccountConfig, accountsSchema } from '@jibe/config';
import { type KubeSim, type SimCluster, startKubeSim } from '@jibe/kube-sim';
import { ClusterError } from '@jibe/stages';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type KeyPair, TestPki } from '../../test/support/test-pki';
import { AccountRegistry } from './account-registry';
import { KubernetesClusterAdapter } from './kubernetes-cluster.adapter';
import { rejection } from '../../test/support/rejection';

/**
 * An `inCluster` account as it runs in a pod: the kubelet's KUBERNETES_SERVICE_HOST/PORT in the environment, the
 * service account's token, ca.crt and namespace in a directory (a temp dir here, the kubelet's mount in production),
 * and the simulator serving HTTPS with a certificate signed by that CA and accepting only the current tokens.
 */

/** Writes a service-account directory the way the kubelet's atomic writer does: a whole new file renamed in place. */
async function writeServiceAccount(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, `.${name}.tmp`), content);
    await rename(join(dir, `.${name}.tmp`), join(dir, name));
  }
}

const SERVICE_ACCOUNT = 'system:serviceaccount:jibe:jibe';
const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'settings' } as const;

describe('inCluster accounts over TLS to the simulator', () => {
  let pki: TestPki;
  let root: string;
  let sim: KubeSim;
  let cluster: SimCluster;
  let serverCa: KeyPair;
  /** Tokens the API server accepts now, and every token it was shown. */
  const valid = new Set<string>();
  const presented: string[] = [];
  const registries: AccountRegistry[] = [];

  /** A registry with one inCluster account `here` reading its service account from `dir`. */
  function inPod(dir: string): KubernetesClusterAdapter {
    const accounts: AccountConfig[] = accountsSchema.parse([{ name: 'here', kind: 'inCluster' }]);
    const registry = new AccountRegistry(accounts, { serviceAccountDir: dir });
    registries.push(registry);
    return new KubernetesClusterAdapter(registry);
  }

  beforeAll(async () => {
    pki = await TestPki.create();
    serverCa = await pki.ca('kubernetes');
    const serving = await pki.issue(serverCa, { cn: 'kube-apiserver', usage: 'server' });
    sim = await startKubeSim({
      clusters: [
        {
          name: 'home',
          clock: 'manual',
          tls: serving,
          authentication: {
            token: (token) => {
              presented.push(token);
              return valid.has(token) ? SERVICE_ACCOUNT : undefined;
            },
          },
        },
      ],
    });
    cluster = sim.cluster('home');
    cluster.api.create(cluster.registry.mustForKind('v1', 'ConfigMap'), 'default', {
      metadata: { name: 'settings' },
      data: { answer: '42' },
    });
    root = await mkdtemp(join(tmpdir(), 'jibe-pod-'));
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.useRealTimers();
  });

  afterAll(async () => {
    await Promise.all(registries.map((r) => r.close()));
    await sim?.stop();
    await pki?.dispose();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** What the kubelet sets in every container: the API server's Service address. */
  function kubeletEnv(): void {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '127.0.0.1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', String(cluster.port));
  }

  // Fails if the token file were read once and kept, or never read again after it rotates: checked by replacing
  // loadInCluster's tokenFile auth provider in account-client.ts with `token: readFileSync(tokenFile, 'utf8')`
  // (the call after the minute still presents token-1, which is revoked by then: 401).
  it('connects with the pod service account and picks up the token the kubelet rotates', async () => {
    const dir = join(root, 'rotating');
    await writeServiceAccount(dir, { token: 'token-1', 'ca.crt': serverCa.cert, namespace: 'jibe' });
    valid.add('token-1');
    kubeletEnv();
    const adapter = inPod(dir);
    expect(await adapter.get('here', ref)).toMatchObject({ data: { answer: '42' } });
    expect(presented.at(-1)).toBe('token-1');
    expect(cluster.requests().at(-1)?.user).toBe(SERVICE_ACCOUNT);

    // The kubelet refreshes a projected token well before it expires; both stay valid for a while.
    await writeServiceAccount(dir, { token: 'token-2' });
    valid.add('token-2');
    // client-node (like client-go) reads the file again once its copy is a minute old. Date alone is faked: it is
    // what client-node's file authenticator measures that minute with.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    vi.setSystemTime(Date.now() + 61_000);
    valid.delete('token-1');
    presented.length = 0;
    expect(await adapter.get('here', ref)).toMatchObject({ data: { answer: '42' } });
    expect(new Set(presented)).toEqual(new Set(['token-2']));
  });

  // Fails if the API server were not verified: checked by setting rejectUnauthorized: false in account-client.ts
  // (this test's call succeeds). That ca.crt is what trusts the right server is checked by the first test: with
  // `caFile` dropped from the cluster loadInCluster builds, Node's own roots do not know the test CA and it fails.
  it('verifies the API server with the service account ca.crt, and names the account when it does not match', async () => {
    const other = await pki.ca('another-cluster');
    const dir = join(root, 'wrong-ca');
    await writeServiceAccount(dir, { token: 'token-2', 'ca.crt': other.cert, namespace: 'jibe' });
    kubeletEnv();
    const error = await rejection(inPod(dir).get('here', ref));
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toMatch(
      /^account here: get ConfigMap settings: the TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted by the account's certificate authority: unable to verify the first certificate/,
    );
  });

  // Fails if a missing environment or mount surfaced later as something vaguer: checked by removing the hostname
  // check in loadInCluster (the error becomes the request's "Invalid URL"), and separately the up-front
  // readFileSync (the file is then only missed on the request, with another message).
  it('outside a pod, or without the service account mounted, the error names the account and what is missing', async () => {
    const dir = join(root, 'mounted');
    await writeServiceAccount(dir, { token: 'token-2', 'ca.crt': serverCa.cert });
    vi.stubEnv('KUBERNETES_SERVICE_HOST', undefined);
    vi.stubEnv('KUBERNETES_SERVICE_PORT', undefined);
    const outside = await rejection(inPod(dir).get('here', ref));
    expect(outside).toBeInstanceOf(ClusterError);
    expect(outside.message).toBe(
      'account here: cannot load in-cluster credentials: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: Jibe is not running in a pod',
    );

    kubeletEnv();
    const unmounted = join(root, 'not-mounted');
    const missing = await rejection(inPod(unmounted).get('here', ref));
    expect(missing).toBeInstanceOf(ClusterError);
    expect(missing.message).toBe(
      `account here: cannot load in-cluster credentials: ENOENT: no such file or directory, open '${unmounted}/token'`,
    );
  });
});
