import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  KubernetesObjectApi,
  type RequestContext,
  ResponseContext,
  ServerConfiguration,
  VersionApi,
  bufferFromFileOrString,
  wrapHttpLibrary,
} from '@kubernetes/client-node';
import { type AccountConfig } from '@jibe/config';
import { ClusterError } from '@jibe/stages';
import { Agent, fetch } from 'undici';
import { ConcurrencyLimiter } from './concurrency-limiter';
import { type GoogleTokenSource } from './token-source';

/**
 * Serves `simulated` accounts: the URL of the in-process simulated cluster of that name (local mode binds the
 * kube-sim clusters it starts; tests bind theirs).
 */
export abstract class SimulatedClusters {
  abstract url(cluster: string): Promise<string> | string;
}

/** What building an account's client may need besides the account itself. */
export interface AccountClientDeps {
  readonly tokenSource: GoogleTokenSource | undefined;
  readonly simulatedClusters: SimulatedClusters | undefined;
  /** The GKE API, for accounts whose endpoint is not in the config (tests point it elsewhere). */
  readonly gkeApiUrl: string;
  /** Where `inCluster` accounts read the pod's service account (default {@link SERVICE_ACCOUNT_DIR}). */
  readonly serviceAccountDir?: string;
}

/** Where the kubelet mounts a pod's service account: `token`, `ca.crt` and `namespace`. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Marks the JSON a request got back. client-node's KubernetesObjectApi deserializes responses into its typed
 * models, which turns timestamps into Date objects and drops fields the models do not know; stages need the
 * object exactly as the API server sent it. The HTTP layer below wraps such bodies in an object of an unknown
 * group, which client-node passes through untouched, and {@link unwrapRaw} takes the original out again.
 */
const RAW_API_VERSION = 'raw.jibe.dev/v1';
const RAW_KIND = 'RawJson';
/** Bodies client-node must parse itself: discovery (it builds URLs from it) and Status (delete's answer). */
const PARSED_BY_CLIENT = new Set(['APIResourceList', 'APIGroupList', 'APIVersions', 'Status']);

/**
 * The exact body of the write request made inside {@link withRequestBody}. KubernetesObjectApi builds the body
 * from the object it also takes the URL from, through its typed models: that drops fields the models do not know
 * (and `$patch` directives) and cannot express a JSON Patch array at all. So the adapter hands the URL object to
 * client-node and the body it means to send here; discovery GETs made on the way keep their own (empty) body.
 */
const requestBody = new AsyncLocalStorage<string>();

/** Runs `operation` with `body` as the body of the write request (POST, PUT, PATCH, DELETE) it makes. */
export function withRequestBody<T>(body: string, operation: () => Promise<T>): Promise<T> {
  return requestBody.run(body, operation);
}

/** The JSON the API server sent for a KubernetesObjectApi call (see {@link RAW_KIND}). */
export function unwrapRaw<T>(result: unknown): T {
  const raw = (result as { raw?: unknown } | null)?.raw;
  if (raw === undefined) throw new Error('kubernetes: response was not captured as raw JSON');
  return raw as T;
}

/**
 * KubernetesObjectApi with its discovery exposed. client-node builds each object URL from the `namespaced` flag
 * of the kind's entry in `/api/v1` or `/apis/<group>/<version>`, cached per apiVersion and re-fetched when a kind
 * is missing (a CRD installed since). Asking the same cache is what lets the namespace allow-list judge the URL
 * the request will really go to.
 */
export class DiscoveringObjectApi extends KubernetesObjectApi {
  /** Whether the cluster serves `kind` in `apiVersion` namespaced, or undefined when it does not serve it. */
  async namespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    try {
      return (await this.resource(apiVersion, kind))?.namespaced;
    } catch (error) {
      // An API group or version the cluster does not serve answers 404: its kinds are unknown, not an outage.
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }
}

/**
 * A request failed before any HTTP answer: refused, timed out, reset, the name did not resolve, or the server's TLS
 * certificate could not be trusted (`untrusted`: a configuration problem that retrying cannot fix).
 */
export class ConnectionFailure extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
    readonly untrusted = false,
  ) {
    super(message);
    this.name = 'ConnectionFailure';
  }
}

/**
 * The clients of one account, made on first use. Every request goes through the account's own concurrency
 * limiter and undici dispatcher (a short connect timeout, a request timeout), and after a connection failure the
 * account fails fast for a moment instead of making each queued request wait out its own connect timeout.
 */
export class AccountClient {
  readonly objects: DiscoveringObjectApi;
  readonly core: CoreV1Api;
  readonly version: VersionApi;
  private readonly limiter: ConcurrencyLimiter;
  private unreachableUntil = 0;
  private lastFailure = '';

  private constructor(
    readonly account: AccountConfig,
    readonly server: string,
    private readonly dispatcher: Agent,
    authenticate: () => Promise<Record<string, string>>,
  ) {
    this.limiter = new ConcurrencyLimiter(account.concurrency);
    const requestMs = account.timeouts.requestMs;
    const http = wrapHttpLibrary({
      send: async (request: RequestContext) => {
        for (const [key, value] of Object.entries(await authenticate())) request.setHeaderParam(key, value);
        const signals = [AbortSignal.timeout(requestMs), request.getSignal()].filter((s) => s !== undefined);
        const method = request.getHttpMethod().toString();
        let response;
        try {
          response = await fetch(request.getUrl(), {
            method,
            body: (method === 'GET' ? undefined : requestBody.getStore()) ?? (request.getBody() as string | undefined),
            headers: request.getHeaders(),
            signal: AbortSignal.any(signals),
            dispatcher: this.dispatcher,
          });
        } catch (error) {
          throw this.connectionFailure(error, request);
        }
        const headers: Record<string, string> = {};
        response.headers.forEach((value, name) => (headers[name] = value));
        const text = await response.text();
        return new ResponseContext(response.status, headers, {
          text: () => Promise.resolve(wrapRaw(response.status, headers['content-type'], text)),
          binary: () => Promise.resolve(Buffer.from(text)),
          stream: () => null,
        });
      },
    });
    const configuration = createConfiguration({
      baseServer: new ServerConfiguration(server.replace(/\/$/, ''), {}),
      httpApi: http,
      authMethods: {},
    });
    this.objects = new DiscoveringObjectApi(configuration);
    this.core = new CoreV1Api(configuration);
    this.version = new VersionApi(configuration);
  }

  /** Builds the client of one account: reads its kubeconfig, in-cluster files or GKE endpoint as needed. */
  static async create(account: AccountConfig, deps: AccountClientDeps): Promise<AccountClient> {
    const { connectMs, requestMs } = account.timeouts;
    const agent = (tls: TlsOptions) =>
      new Agent({
        connect: { timeout: connectMs, ...tls },
        headersTimeout: requestMs,
        bodyTimeout: requestMs,
        connections: account.concurrency,
      });
    switch (account.kind) {
      case 'kubeconfig':
      case 'inCluster': {
        const kc = new KubeConfig();
        try {
          if (account.kind === 'inCluster') loadInCluster(kc, deps.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
          else kc.loadFromFile(expandHome(account.kubeconfig));
        } catch (error) {
          throw new ClusterError(
            `account ${account.name}: cannot load ${account.kind === 'inCluster' ? 'in-cluster credentials' : `kubeconfig ${account.kubeconfig}`}: ${(error as Error).message}`,
            account.name,
          );
        }
        if (account.kind === 'kubeconfig' && account.context) {
          if (!kc.getContextObject(account.context))
            throw new ClusterError(
              `account ${account.name}: kubeconfig ${account.kubeconfig} has no context "${account.context}"`,
              account.name,
            );
          kc.setCurrentContext(account.context);
        }
        const cluster = kc.getCurrentCluster();
        const user = kc.getCurrentUser();
        if (!cluster) throw new ClusterError(`account ${account.name}: the kubeconfig names no cluster`, account.name);
        let tls: TlsOptions;
        try {
          tls = {
            ca: bufferFromFileOrString(cluster.caFile, cluster.caData) ?? undefined,
            cert: bufferFromFileOrString(user?.certFile, user?.certData) ?? undefined,
            key: bufferFromFileOrString(user?.keyFile, user?.keyData) ?? undefined,
            rejectUnauthorized: !cluster.skipTLSVerify,
            servername: cluster.tlsServerName,
          };
        } catch (error) {
          // A CA, certificate or key file the kubeconfig (or the pod's service account) names but that cannot be read.
          throw new ClusterError(`account ${account.name}: ${(error as Error).message}`, account.name);
        }
        // KubeConfig works out the Authorization header (static token, exec plugin, OIDC…) and refreshes it.
        const authenticate = async () => {
          const opts: { headers?: Record<string, string>; auth?: string } = {};
          await kc.applyToHTTPSOptions(opts);
          const headers = { ...opts.headers };
          if (opts.auth) headers['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
          return headers;
        };
        return new AccountClient(account, cluster.server, agent(tls), authenticate);
      }
      case 'gke': {
        const tokens = deps.tokenSource;
        if (!tokens) throw new ClusterError(`account ${account.name}: no Google token source`, account.name);
        const bearer = async () => ({ Authorization: `Bearer ${(await tokens.accessToken()).token}` });
        const { endpoint, caData } = account.endpoint
          ? { endpoint: account.endpoint, caData: account.caData }
          : await lookUpGkeCluster(account, deps.gkeApiUrl, bearer);
        const server = /^https?:\/\//.test(endpoint) ? endpoint : `https://${endpoint}`;
        const tls: TlsOptions = { ca: caData ? Buffer.from(caData, 'base64') : undefined };
        return new AccountClient(account, server, agent(tls), bearer);
      }
      case 'simulated': {
        const clusters = deps.simulatedClusters;
        const name = account.cluster ?? account.name;
        if (!clusters)
          throw new ClusterError(
            `account ${account.name}: no simulated cluster "${name}" runs in this process`,
            account.name,
          );
        return new AccountClient(account, await clusters.url(name), agent({}), () => Promise.resolve({}));
      }
    }
  }

  /**
   * Runs one API operation within the account's concurrency limit. While the cluster is known to be unreachable
   * the operation is not even attempted: it fails at once with the last connection error.
   */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    this.throwIfUnreachable();
    return this.limiter.run(() => {
      // Checked again: the cluster may have been found unreachable while this request waited for its turn.
      this.throwIfUnreachable();
      return operation();
    });
  }

  /** Releases the account's connections. */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private throwIfUnreachable(): void {
    if (Date.now() < this.unreachableUntil) throw new ConnectionFailure(this.lastFailure, false);
  }

  private connectionFailure(error: unknown, request: RequestContext): Error {
    const what = `${request.getHttpMethod()} ${new URL(request.getUrl()).pathname}`;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError')
      return new ConnectionFailure(`${what} timed out after ${this.account.timeouts.requestMs} ms`, true);
    const code = cause?.code ?? (error as { code?: string }).code ?? '';
    const connectTimeout = code === 'UND_ERR_CONNECT_TIMEOUT';
    const reason = connectTimeout
      ? `no connection within ${this.account.timeouts.connectMs} ms`
      : code
        ? `${code}${cause?.message ? ` (${cause.message})` : ''}`
        : (cause?.message ?? (error as Error).message);
    if (UNTRUSTED_CERTIFICATE.has(code))
      return new ConnectionFailure(
        `the TLS certificate of ${this.server} is not trusted by the account's certificate authority: ${cause?.message ?? code} (${code})`,
        false,
        true,
      );
    const message = `cannot reach ${this.server}: ${what}: ${reason}`;
    if (['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) {
      // A cluster that refused or never answered a connection will not answer the next one in a moment either.
      this.unreachableUntil = Date.now() + Math.min(this.account.timeouts.connectMs, 2_000);
      this.lastFailure = message;
    }
    return new ConnectionFailure(message, connectTimeout);
  }
}

/** OpenSSL's and Node's codes for a server certificate that does not verify against the account's CA. */
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

function wrapRaw(status: number, contentType: string | undefined, text: string): string {
  if (status < 200 || status > 299 || !(contentType ?? '').includes('json')) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const kind = (parsed as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || PARSED_BY_CLIENT.has(kind)) return text;
  return JSON.stringify({ apiVersion: RAW_API_VERSION, kind: RAW_KIND, metadata: {}, raw: parsed });
}

/**
 * The pod's own credentials, as client-node's `loadFromCluster` reads them but from `dir`: the API server from the
 * KUBERNETES_SERVICE_HOST and _PORT variables the kubelet sets in every container (read by client-node), its CA from
 * `ca.crt`, and the bearer token from `token` through client-node's file authenticator, which reads the file again
 * once it is a minute old (as client-go does), so the projected token the kubelet rotates is picked up.
 */
function loadInCluster(kc: KubeConfig, dir: string): void {
  kc.loadFromCluster();
  const cluster = kc.getCurrentCluster();
  // Unset, the variables make "https://undefined:undefined".
  if (!cluster || !URL.canParse(cluster.server) || new URL(cluster.server).hostname === 'undefined')
    throw new Error('KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: Jibe is not running in a pod');
  const tokenFile = join(dir, 'token');
  // Read once here so that a missing mount fails the account's first use by name, not each request later.
  readFileSync(tokenFile);
  kc.loadFromClusterAndUser(
    { ...cluster, caFile: join(dir, 'ca.crt') },
    { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } },
  );
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? `${homedir()}${path.slice(1)}` : path;
}

async function lookUpGkeCluster(
  account: Extract<AccountConfig, { kind: 'gke' }>,
  apiUrl: string,
  bearer: () => Promise<Record<string, string>>,
): Promise<{ endpoint: string; caData: string | undefined }> {
  const url = `${apiUrl}/v1/projects/${account.project}/locations/${account.location}/clusters/${account.cluster}`;
  const headers = await bearer();
  let response;
  try {
    response = await fetch(url, { headers, signal: AbortSignal.timeout(account.timeouts.requestMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new ConnectionFailure(`cannot reach the GKE API at ${apiUrl}: ${reason}`, false);
  }
  if (!response.ok) {
    // Google's error body: { error: { code, message, status } }, e.g. PERMISSION_DENIED and the permission missing.
    const body = (await response.json().catch(() => ({}))) as { error?: { message?: unknown; status?: unknown } };
    const said = [body.error?.status, body.error?.message].filter((x) => typeof x === 'string').join(': ');
    throw new ClusterError(
      `account ${account.name}: the GKE API answered HTTP ${response.status} for cluster ${account.project}/${account.location}/${account.cluster}${said ? ` (${said})` : ''}`,
      account.name,
      response.status,
    );
  }
  const body = (await response.json()) as { endpoint?: string; masterAuth?: { clusterCaCertificate?: string } };
  if (!body.endpoint)
    throw new ClusterError(`account ${account.name}: the GKE API gave no endpoint for the cluster`, account.name);
  return { endpoint: body.endpoint, caData: body.masterAuth?.clusterCaCertificate };
}
