import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountsSchema } from '@jibe/config';
import { TransientError } from '@jibe/domain';
import { type KubeSim, type SimCluster, startKubeSim } from '@jibe/kube-sim';
import { ClusterError } from '@jibe/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type KeyPair, TestPki } from '../../test/support/test-pki';
import { AccountRegistry } from './account-registry';
import { AccountsService } from './accounts.service';
import { KubernetesClusterAdapter } from './kubernetes-cluster.adapter';
import { rejection } from '../../test/support/rejection';

/**
 * `kubeconfig` accounts connecting for real: the simulator serves HTTPS with a certificate signed by a test CA and
 * checks credentials as kube-apiserver does (bearer tokens, client certificates signed by its client CA, 401 for
 * anything else); the accounts read a kubeconfig file like the ones `gcloud`, `kind` or `kubeadm` write.
 */

const b64 = (text: string) => Buffer.from(text).toString('base64');

const configMap = (name: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { from: name },
});

describe('kubeconfig accounts over TLS to the simulator', () => {
  let pki: TestPki;
  let dir: string;
  let sim: KubeSim;
  let cluster: SimCluster;
  let registry: AccountRegistry;
  let adapter: KubernetesClusterAdapter;
  let serverCa: KeyPair;
  const tokens = new Map([['s3cr3t-deployer-token', 'deployer']]);

  beforeAll(async () => {
    pki = await TestPki.create();
    serverCa = await pki.ca('kube-sim-server-ca');
    const clientCa = await pki.ca('kube-sim-client-ca');
    const otherCa = await pki.ca('some-other-ca');
    const serving = await pki.issue(serverCa, { cn: 'kube-apiserver', usage: 'server' });
    const jane = await pki.issue(clientCa, { cn: 'jane', organization: 'system:masters', usage: 'client' });
    const ops = await pki.issue(clientCa, { cn: 'ops-bot', usage: 'client' });
    const mallory = await pki.issue(otherCa, { cn: 'mallory', organization: 'system:masters', usage: 'client' });

    sim = await startKubeSim({
      clusters: [
        {
          name: 'secure',
          clock: 'manual',
          tls: { cert: serving.cert, key: serving.key, clientCa: clientCa.cert },
          authentication: { token: (token) => tokens.get(token) },
        },
      ],
    });
    cluster = sim.cluster('secure');
    expect(cluster.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    dir = await mkdtemp(join(tmpdir(), 'jibe-kubeconfig-'));
    // One user keeps its certificate in files beside the kubeconfig, named relative to it (as kubeadm and minikube do).
    await writeFile(join(dir, 'ops.crt'), ops.cert);
    await writeFile(join(dir, 'ops.key'), ops.key, { mode: 0o600 });
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'secure', cluster: { server: cluster.url, 'certificate-authority-data': b64(serverCa.cert) } },
        // The same server, but the kubeconfig trusts another CA: what a stale or mixed-up kubeconfig looks like.
        { name: 'secure-wrong-ca', cluster: { server: cluster.url, 'certificate-authority-data': b64(otherCa.cert) } },
      ],
      users: [
        { name: 'token', user: { token: 's3cr3t-deployer-token' } },
        { name: 'jane', user: { 'client-certificate-data': b64(jane.cert), 'client-key-data': b64(jane.key) } },
        { name: 'ops', user: { 'client-certificate': 'ops.crt', 'client-key': 'ops.key' } },
        { name: 'revoked', user: { token: 'revoked-token' } },
        {
          name: 'mallory',
          user: { 'client-certificate-data': b64(mallory.cert), 'client-key-data': b64(mallory.key) },
        },
      ],
      contexts: [
        { name: 'token', context: { cluster: 'secure', user: 'token' } },
        { name: 'jane', context: { cluster: 'secure', user: 'jane' } },
        { name: 'ops', context: { cluster: 'secure', user: 'ops' } },
        { name: 'revoked', context: { cluster: 'secure', user: 'revoked' } },
        { name: 'mallory', context: { cluster: 'secure', user: 'mallory' } },
        { name: 'wrong-ca', context: { cluster: 'secure-wrong-ca', user: 'token' } },
      ],
      'current-context': 'token',
    };
    const path = join(dir, 'kubeconfig');
    await writeFile(path, stringify(kubeconfig), { mode: 0o600 });
    const account = (name: string, context?: string) => ({ name, kind: 'kubeconfig', kubeconfig: path, context });
    registry = new AccountRegistry(
      accountsSchema.parse([
        account('by-token'),
        account('by-cert', 'jane'),
        account('by-cert-file', 'ops'),
        account('revoked', 'revoked'),
        account('untrusted-client', 'mallory'),
        account('untrusted-server', 'wrong-ca'),
        account('no-such-context', 'staging'),
      ]),
    );
    adapter = new KubernetesClusterAdapter(registry);
  });

  afterAll(async () => {
    await registry?.close();
    await sim?.stop();
    await pki?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Fails if the kubeconfig's CA data is not used to verify the server: checked by dropping `ca:` from the kubeconfig
  // TLS options in account-client.ts (every test but the last two fails with UNABLE_TO_VERIFY_LEAF_SIGNATURE).
  it('a bearer token from the kubeconfig authenticates over TLS verified with certificate-authority-data', async () => {
    cluster.clearRequests();
    const [applied] = await adapter.apply('by-token', [configMap('by-token')]);
    expect(applied!.metadata.uid).toBeTruthy();
    expect(cluster.getObject('v1', 'ConfigMap', 'default', 'by-token')?.['data']).toEqual({ from: 'by-token' });
    const users = new Set(cluster.requests().map((r) => r.user));
    expect([...users]).toEqual(['deployer']);
  });

  // Fails if the client certificate is not presented: checked by dropping `cert:` and `key:` from the TLS options
  // in account-client.ts (the server then sees no credentials and answers 401; only this test fails).
  it('a client certificate and key from the kubeconfig (inline data or files beside it) authenticate as their CN', async () => {
    cluster.clearRequests();
    await adapter.apply('by-cert', [configMap('by-cert')]);
    expect(new Set(cluster.requests().map((r) => r.user))).toEqual(new Set(['jane']));
    cluster.clearRequests();
    expect(await adapter.get('by-cert-file', { apiVersion: 'v1', kind: 'ConfigMap', name: 'by-cert' })).toMatchObject({
      data: { from: 'by-cert' },
    });
    expect(new Set(cluster.requests().map((r) => r.user))).toEqual(new Set(['ops-bot']));
  });

  // Checked by the two breaks around it: no `ca:` fails the first half, a token check that accepts anything the second.
  it('the accounts page shows a TLS account as reachable, and one whose token is refused as not', async () => {
    const accounts = new AccountsService(registry, { cacheMs: 1 });
    expect(await accounts.reachability('by-cert')).toMatchObject({ reachable: true, version: 'v1.32.0-kube-sim' });
    expect(await accounts.reachability('revoked')).toMatchObject({ reachable: false, error: 'HTTP 401' });
  });

  // Fails if unknown tokens get in: checked by making api-server.ts authenticate any bearer token as 'deployer'
  // (this test and the accounts-page test fail).
  it('a token the cluster does not accept fails with Unauthorized, naming the account, and is not retried', async () => {
    const error = await rejection(adapter.apply('revoked', [configMap('revoked')]));
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toMatch(/^account revoked: apply ConfigMap default\/revoked: Unauthorized$/);
    expect((error as ClusterError).status).toBe(401);
    expect(cluster.getObject('v1', 'ConfigMap', 'default', 'revoked')).toBeUndefined();
  });

  // Fails if a certificate that does not chain to the client CA were accepted: checked by dropping the
  // `socket.authorized` condition in api-server.ts (mallory then authenticates; only this test fails).
  it('a client certificate from a CA the cluster does not trust fails with Unauthorized, naming the account', async () => {
    const error = await rejection(adapter.apply('untrusted-client', [configMap('mallory')]));
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toMatch(/^account untrusted-client: apply ConfigMap default\/mallory: Unauthorized$/);
    expect(cluster.getObject('v1', 'ConfigMap', 'default', 'mallory')).toBeUndefined();
  });

  // Fails if the server's certificate were not verified, or if the failure were reported as a passing outage to be
  // retried: checked by setting rejectUnauthorized: false in account-client.ts, and separately by disabling the
  // UNTRUSTED_CERTIFICATE branch of connectionFailure (a TransientError "cannot reach …"); only this test fails.
  it('a server certificate the kubeconfig CA does not trust fails at once with a TLS error naming the account', async () => {
    cluster.clearRequests();
    const error = await rejection(adapter.get('untrusted-server', { apiVersion: 'v1', kind: 'ConfigMap', name: 'x' }));
    expect(error).not.toBeInstanceOf(TransientError);
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toBe(
      `account untrusted-server: get ConfigMap x: the TLS certificate of ${cluster.url} is not trusted by the account's certificate authority: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
    );
    // Nothing was sent: the token never went to a server that could not prove who it is.
    expect(cluster.requests()).toEqual([]);
  });

  // Checked by disabling the context check in account-client.ts (the error becomes "names no cluster").
  it('a context the kubeconfig does not have is named in the error', async () => {
    const error = await rejection(adapter.get('no-such-context', { apiVersion: 'v1', kind: 'ConfigMap', name: 'x' }));
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toMatch(/^account no-such-context: kubeconfig \S+\/kubeconfig has no context "staging"$/);
  });
});
