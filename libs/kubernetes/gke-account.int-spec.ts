import { createPublicKey, createVerify, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AccountConfig, accountsSchema } from '@jibe/config';
import { TransientError } from '@jibe/domain';
import { type KubeSim, type SimCluster, startKubeSim } from '@jibe/kube-sim';
import { ClusterError } from '@jibe/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki } from '../../test/support/test-pki';
import { AccountRegistry } from './account-registry';
import { KubernetesClusterAdapter } from './kubernetes-cluster.adapter';
import { kubernetesRuntime } from './kubernetes.module';
import { ApplicationDefaultCredentials } from './token-source';
import { rejection } from '../../test/support/rejection';

/**
 * `gke` accounts connecting for real, with Google played by local servers that speak Google's HTTP APIs: the
 * metadata server's token endpoint (Workload Identity), the OAuth token endpoint (service-account keys and gcloud's
 * authorized_user file), and the GKE API's clusters.get, which gives the endpoint and CA of the simulated cluster
 * (HTTPS, accepting only access tokens Google issued and that have not expired).
 */

/** The test's clock for token lifetimes: Google's servers and the token source both read it. */
let now = 1_750_000_000_000;
const clock = () => now;

interface Issued {
  readonly token: string;
  readonly expiresAt: number;
  readonly flow: string;
}

/** Google as far as Jibe talks to it. Every request is counted by route. */
class FakeGoogle {
  readonly issued: Issued[] = [];
  readonly calls = { metadata: 0, oauth: 0, clusters: 0 };
  /** Answers the metadata token endpoint with this status instead of a token, while set. */
  metadataFailure: number | undefined;
  clusters = new Map<string, object>();
  serviceAccountKey: { clientEmail: string; publicKeyPem: string } | undefined;
  readonly refreshTokens = new Map<string, string>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => json(res, 500, { error: { message: String(error) } }));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Whether Google would accept `token` now (issued by it and not expired). */
  valid(token: string): boolean {
    return this.issued.some((t) => t.token === token && t.expiresAt > now);
  }

  private issue(res: ServerResponse, flow: string, extraHeaders: Record<string, string> = {}): void {
    const token = `ya29.${flow}-${this.issued.length + 1}`;
    this.issued.push({ token, expiresAt: now + 3599_000, flow });
    json(res, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' }, extraHeaders);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname === '/computeMetadata/v1/instance/service-accounts/default/token' && req.method === 'GET') {
      this.calls.metadata++;
      // The metadata server refuses requests without this header (a guard against SSRF) and marks its answers.
      if (req.headers['metadata-flavor'] !== 'Google')
        return text(res, 403, 'Missing required header: Metadata-Flavor', { 'Metadata-Flavor': 'Google' });
      if (this.metadataFailure) return text(res, this.metadataFailure, 'unavailable', { 'Metadata-Flavor': 'Google' });
      return this.issue(res, 'metadata', { 'Metadata-Flavor': 'Google' });
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      this.calls.oauth++;
      const form = new URLSearchParams(await body(req));
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded')
        return json(res, 400, { error: 'invalid_request', error_description: 'Bad Request' });
      if (form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer')
        return this.jwtBearer(res, form.get('assertion') ?? '');
      if (form.get('grant_type') === 'refresh_token') {
        const secret = this.refreshTokens.get(form.get('refresh_token') ?? '');
        if (!secret || secret !== `${form.get('client_id')}:${form.get('client_secret')}`)
          return json(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
        return this.issue(res, 'user');
      }
      return json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type.' });
    }
    const cluster = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/clusters\/([^/]+)$/.exec(url.pathname);
    if (cluster && req.method === 'GET') {
      this.calls.clusters++;
      const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer || !this.valid(bearer))
        return json(res, 401, {
          error: {
            code: 401,
            message: 'Request had invalid authentication credentials. Expected OAuth 2 access token.',
            status: 'UNAUTHENTICATED',
          },
        });
      const name = `projects/${cluster[1]}/locations/${cluster[2]}/clusters/${cluster[3]}`;
      const found = this.clusters.get(name);
      if (!found) return json(res, 404, { error: { code: 404, message: `Not found: ${name}.`, status: 'NOT_FOUND' } });
      return json(res, 200, found);
    }
    return json(res, 404, { error: { code: 404, message: 'Not Found', status: 'NOT_FOUND' } });
  }

  /** Google's check of a service-account JWT: RS256 by the key of `iss`, for this endpoint, an hour at most. */
  private jwtBearer(res: ServerResponse, assertion: string): void {
    const [header, claims, signature] = assertion.split('.');
    const key = this.serviceAccountKey;
    const decoded = JSON.parse(Buffer.from(claims ?? '', 'base64url').toString()) as Record<string, unknown>;
    const signed =
      !!key &&
      createVerify('RSA-SHA256')
        .update(`${header}.${claims}`)
        .verify(createPublicKey(key.publicKeyPem), Buffer.from(signature ?? '', 'base64url'));
    const iat = Number(decoded['iat']);
    if (
      !signed ||
      decoded['iss'] !== key.clientEmail ||
      decoded['aud'] !== `${this.url}/token` ||
      decoded['scope'] !== 'https://www.googleapis.com/auth/cloud-platform' ||
      Number(decoded['exp']) - iat > 3600 ||
      Math.abs(iat * 1000 - now) > 300_000
    )
      return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    this.issue(res, 'sa');
  }
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', ...headers });
  res.end(JSON.stringify(value));
}

function text(res: ServerResponse, status: number, value: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(value);
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk: Buffer) => (data += chunk.toString()));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

/** A local port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'settings' } as const;

describe('gke accounts: Google tokens and the GKE API, against local servers speaking their APIs', () => {
  const google = new FakeGoogle();
  let pki: TestPki;
  let dir: string;
  let sim: KubeSim;
  let cluster: SimCluster;
  const registries: AccountRegistry[] = [];
  /** Tokens the simulated cluster was shown, in order. */
  const presented: string[] = [];

  const gke = (name: string, clusterName: string): AccountConfig =>
    accountsSchema.parse([
      { name, kind: 'gke', project: 'acme-prod', location: 'europe-west1', cluster: clusterName },
    ])[0]!;

  /** A registry of GKE accounts whose Google credentials come from `credentials` (the metadata server by default). */
  function registryWith(accounts: AccountConfig[], credentials: { file?: string } = {}) {
    const tokenSource = new ApplicationDefaultCredentials({
      ...(credentials.file ? { credentialsFile: credentials.file } : {}),
      // Never the developer's own gcloud login: a file that does not exist sends the source to the metadata server.
      gcloudCredentialsFile: join(dir, 'no-gcloud-login.json'),
      metadataServer: google.url,
      now: clock,
    });
    const registry = new AccountRegistry(accounts, { tokenSource, gkeApiUrl: google.url });
    registries.push(registry);
    return { registry, adapter: new KubernetesClusterAdapter(registry) };
  }

  beforeAll(async () => {
    await google.start();
    pki = await TestPki.create();
    dir = await mkdtemp(join(tmpdir(), 'jibe-gke-'));
    const ca = await pki.ca('gke-cluster-ca');
    const serving = await pki.issue(ca, { cn: 'kube-apiserver', usage: 'server' });
    sim = await startKubeSim({
      clusters: [
        {
          name: 'gke-prod',
          clock: 'manual',
          tls: serving,
          // GKE checks Google access tokens with Google (a webhook token authenticator); here, with the fake.
          authentication: {
            token: (token) => {
              presented.push(token);
              return google.valid(token) ? 'jibe@acme-prod.iam.gserviceaccount.com' : undefined;
            },
          },
        },
      ],
    });
    cluster = sim.cluster('gke-prod');
    cluster.api.create(cluster.registry.mustForKind('v1', 'ConfigMap'), 'default', {
      metadata: { name: 'settings' },
      data: { answer: '42' },
    });
    // What clusters.get returns, trimmed to the fields Jibe reads and a few beside them. The real endpoint is an IP
    // on port 443; the simulator's port is added here.
    google.clusters.set('projects/acme-prod/locations/europe-west1/clusters/prod', {
      name: 'prod',
      location: 'europe-west1',
      status: 'RUNNING',
      currentMasterVersion: '1.32.2-gke.1000',
      endpoint: `127.0.0.1:${cluster.port}`,
      masterAuth: { clusterCaCertificate: Buffer.from(ca.cert).toString('base64') },
    });
  });

  afterAll(async () => {
    await Promise.all(registries.map((r) => r.close()));
    await sim?.stop();
    await google.stop();
    await pki?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Fails if the endpoint lookup, its CA or the metadata token were not used: checked by giving lookUpGkeCluster's
  // caData to no one (`ca: undefined` in the gke case of account-client.ts: the TLS check fails) and by sending the
  // metadata request without Metadata-Flavor in token-source.ts (403, the account cannot connect).
  it('connects with a metadata-server token to the endpoint and CA the GKE API gives, and reuses the client', async () => {
    const { registry, adapter } = registryWith([gke('gke-prod', 'prod')]);
    presented.length = 0;
    const before = { ...google.calls };
    expect(await adapter.get('gke-prod', ref)).toMatchObject({ data: { answer: '42' } });
    await adapter.apply('gke-prod', [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-jibe', namespace: 'default' }, data: {} },
    ]);
    expect(await adapter.get('gke-prod', { ...ref, name: 'from-jibe' })).not.toBeNull();
    expect(cluster.getObject('v1', 'ConfigMap', 'default', 'from-jibe')).toBeDefined();
    expect(new Set(presented)).toEqual(new Set(['ya29.metadata-1']));
    expect(cluster.requests().at(-1)?.user).toBe('jibe@acme-prod.iam.gserviceaccount.com');
    // One token and one lookup for every call so far; the same client object each time.
    expect(google.calls.metadata - before.metadata).toBe(1);
    expect(google.calls.clusters - before.clusters).toBe(1);
    expect(await registry.client('gke-prod')).toBe(await registry.client('gke-prod'));
    expect(registry.builtClients).toBe(1);
  });

  // Fails if tokens were refreshed late (at expiry), early, or once per waiting caller: checked by setting
  // REFRESH_MARGIN_MS to 0 in token-source.ts (the call a minute before expiry still presents ya29.metadata-1), and by
  // dropping the `inFlight` sharing (five concurrent calls fetch five tokens).
  it('refreshes the token a minute before it expires, once for all callers waiting on it', async () => {
    const { adapter } = registryWith([gke('gke-prod', 'prod')]);
    await adapter.get('gke-prod', ref);
    const first = google.issued.at(-1)!;
    const metadataCalls = google.calls.metadata;

    now = first.expiresAt - 61_000;
    presented.length = 0;
    await adapter.get('gke-prod', ref);
    expect(new Set(presented)).toEqual(new Set([first.token]));

    now = first.expiresAt - 59_000;
    presented.length = 0;
    await Promise.all(Array.from({ length: 5 }, () => adapter.get('gke-prod', ref)));
    expect(google.calls.metadata - metadataCalls).toBe(1);
    const second = google.issued.at(-1)!;
    expect(second.token).not.toBe(first.token);
    // The old token was still valid when it was replaced: no request ever carried an expired one.
    expect(new Set(presented)).toEqual(new Set([second.token]));
  });

  // Fails if a failed lookup lost its cause or its account, or were remembered: checked by dropping Google's error
  // message from lookUpGkeCluster's ClusterError (the NOT_FOUND text is missing), and by removing the registry's
  // `client.catch(() => this.clients.delete(name))` (the second call fails again after the cluster exists).
  it('a failed cluster lookup names the account and Google’s reason, and is tried again on the next call', async () => {
    const { adapter } = registryWith([gke('gke-new', 'new')]);
    const error = await rejection(adapter.get('gke-new', ref));
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toBe(
      'account gke-new: the GKE API answered HTTP 404 for cluster acme-prod/europe-west1/new (NOT_FOUND: Not found: projects/acme-prod/locations/europe-west1/clusters/new.)',
    );
    google.clusters.set(
      'projects/acme-prod/locations/europe-west1/clusters/new',
      google.clusters.get('projects/acme-prod/locations/europe-west1/clusters/prod')!,
    );
    expect(await adapter.get('gke-new', ref)).toMatchObject({ data: { answer: '42' } });
  });

  // Fails if the token failure were reported without its account or status: checked by making tokenFrom in
  // token-source.ts throw a bare Error('token') (the message no longer matches).
  it('a metadata server that gives no token fails the account with the URL and status', async () => {
    const { adapter } = registryWith([gke('gke-prod', 'prod')]);
    google.metadataFailure = 503;
    try {
      const error = await rejection(adapter.get('gke-prod', ref));
      expect(error).toBeInstanceOf(ClusterError);
      expect(error.message).toBe(
        `account gke-prod: get ConfigMap settings: Google token request to ${google.url}/computeMetadata/v1/instance/service-accounts/default/token failed with HTTP 503`,
      );
    } finally {
      google.metadataFailure = undefined;
    }
  });

  // Fails if an unreachable Google left only fetch's "fetch failed": checked by removing the cause from the
  // ConnectionFailure of lookUpGkeCluster in account-client.ts, and separately by calling this.fetch directly instead
  // of this.request in metadataServer (token-source.ts).
  it('an unreachable metadata server or GKE API is named with the connection error, the GKE API as worth retrying', async () => {
    const closed = await closedPort();
    const tokenSource = new ApplicationDefaultCredentials({
      gcloudCredentialsFile: join(dir, 'no-gcloud-login.json'),
      metadataServer: `http://127.0.0.1:${closed}`,
      now: clock,
    });
    const noMetadata = new AccountRegistry([gke('gke-prod', 'prod')], { tokenSource, gkeApiUrl: google.url });
    registries.push(noMetadata);
    const error = await rejection(new KubernetesClusterAdapter(noMetadata).get('gke-prod', ref));
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toBe(
      `account gke-prod: get ConfigMap settings: cannot reach http://127.0.0.1:${closed}/computeMetadata/v1/instance/service-accounts/default/token for a Google access token: ECONNREFUSED`,
    );

    const noGkeApi = new AccountRegistry([gke('gke-prod', 'prod')], {
      tokenSource: new ApplicationDefaultCredentials({
        gcloudCredentialsFile: join(dir, 'no-gcloud-login.json'),
        metadataServer: google.url,
        now: clock,
      }),
      gkeApiUrl: `http://127.0.0.1:${closed}`,
    });
    registries.push(noGkeApi);
    const lookup = await rejection(new KubernetesClusterAdapter(noGkeApi).get('gke-prod', ref));
    expect(lookup).toBeInstanceOf(TransientError);
    expect(lookup.message).toBe(
      `account gke-prod: get ConfigMap settings: cannot reach the GKE API at http://127.0.0.1:${closed}: ECONNREFUSED`,
    );
  });

  // Fails if the JWT were not what Google checks (RS256 over header.claims by the key's own private key, aud = the
  // key's token_uri, the cloud-platform scope): checked by signing with 'RSA-SHA1' in token-source.ts (invalid_grant).
  it('a service-account key file signs a JWT that the OAuth endpoint accepts, and the account connects', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    google.serviceAccountKey = {
      clientEmail: 'jibe@acme-prod.iam.gserviceaccount.com',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
    const file = join(dir, 'sa-key.json');
    // The shape of a key file from `gcloud iam service-accounts keys create`; the key is made by this test.
    await writeFile(
      file,
      JSON.stringify({
        type: 'service_account',
        project_id: 'acme-prod',
        private_key_id: 'test-key',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        client_email: 'jibe@acme-prod.iam.gserviceaccount.com',
        client_id: '1234567890',
        token_uri: `${google.url}/token`,
      }),
      { mode: 0o600 },
    );
    const { adapter } = registryWith([gke('gke-prod', 'prod')], { file });
    presented.length = 0;
    expect(await adapter.get('gke-prod', ref)).toMatchObject({ data: { answer: '42' } });
    expect(presented.at(-1)).toMatch(/^ya29\.sa-\d+$/);
  });

  // Fails if GOOGLE_APPLICATION_CREDENTIALS (config.google.credentialsFile) were not handed to the token source:
  // checked by building ApplicationDefaultCredentials() without options in kubernetes.module.ts, which then asks
  // the real metadata address and fails.
  it('the key file named by GOOGLE_APPLICATION_CREDENTIALS is the one production uses', async () => {
    const file = join(dir, 'sa-key.json');
    // Production's token source reads the real clock; the test's Google and cluster read `now`.
    now = Date.now();
    const runtime = kubernetesRuntime(
      { accounts: [gke('gke-prod', 'prod')], google: { credentialsFile: file } },
      { gkeApiUrl: google.url },
    );
    registries.push(runtime.registry);
    presented.length = 0;
    expect(await runtime.adapter.get('gke-prod', ref)).toMatchObject({ data: { answer: '42' } });
    expect(presented.at(-1)).toMatch(/^ya29\.sa-\d+$/);
  });

  // Fails if the refresh-token grant were malformed or Google's reason dropped: checked by removing the OAuth
  // error fields from tokenFrom in token-source.ts (the message ends at "HTTP 400").
  it('a gcloud authorized_user file exchanges its refresh token; a revoked one names the account and invalid_grant', async () => {
    google.refreshTokens.set('1//refresh-ok', 'client-1.apps.googleusercontent.com:secret-1');
    const login = (refreshToken: string) => ({
      type: 'authorized_user',
      client_id: 'client-1.apps.googleusercontent.com',
      client_secret: 'secret-1',
      refresh_token: refreshToken,
      token_uri: `${google.url}/token`,
    });
    const good = join(dir, 'adc-good.json');
    await writeFile(good, JSON.stringify(login('1//refresh-ok')), { mode: 0o600 });
    presented.length = 0;
    expect(await registryWith([gke('gke-prod', 'prod')], { file: good }).adapter.get('gke-prod', ref)).toBeTruthy();
    expect(presented.at(-1)).toMatch(/^ya29\.user-\d+$/);

    const revoked = join(dir, 'adc-revoked.json');
    await writeFile(revoked, JSON.stringify(login('1//refresh-revoked')), { mode: 0o600 });
    const error = await rejection(
      registryWith([gke('gke-prod', 'prod')], { file: revoked }).adapter.get('gke-prod', ref),
    );
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.message).toBe(
      `account gke-prod: get ConfigMap settings: Google token request to ${google.url}/token failed with HTTP 400 (invalid_grant: Token has been expired or revoked.)`,
    );
    expect(error.message).not.toContain('1//refresh-revoked');
  });
});
