import { type IncomingMessage, type ServerResponse } from 'node:http';
import { TLSSocket } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { type ClusterApi, PATCH_CONTENT_TYPES, type PropagationPolicy, type Subresource } from './cluster-api';
import { coreVersions, group, groupList, openApiDocument, openApiIndex, resourceList, versionBody } from './discovery';
import { matchesFields, parseFieldSelector } from './field-selector';
import { type KubeObject, isRecord } from './kube-object';
import { matchesSelector, parseLabelSelector } from './label-selector';
import { type StoreEvent, type WatchEventType } from './object-store';
import { decodeProtobufBody } from './protobuf-body';
import { type ResourceRegistry, type ResourceType } from './resource-registry';
import { StatusError } from './status-error';
import { renderTable, wantsTable } from './table';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'other';

/** What a request is about, as faults and the request log see it. */
export interface RequestInfo {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string;
  userAgent: string;
  verb: Verb;
  /** Who the request authenticated as, when the cluster checks credentials ({@link ApiAuthentication}). */
  user?: string;
  resource?: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Fault and logging hooks around each request. */
export interface ApiHooks {
  /** May delay, or throw a StatusError to fail the request. */
  beforeRequest(info: RequestInfo): Promise<void>;
  /** True when the next watch of this request should end at once with 410 Gone. */
  takeWatchExpiry(info: RequestInfo): boolean;
}

/** Pod log access, provided by the fake kubelet. */
export interface PodLogSource {
  /** Lines printed so far by one container, and whether it has finished. */
  read(pod: KubeObject, container: string | undefined, previous: boolean): { lines: string[]; finished: boolean };
}

/**
 * How the API server authenticates requests, as kube-apiserver does: a client certificate that the TLS layer verified
 * against the client CA (the user is its CN, as with `--client-ca-file`), else a bearer token that `token` accepts
 * (like a token file or a webhook token authenticator). A request without credentials is anonymous and may only read
 * the public paths (`/version`, `/healthz`, `/livez`, `/readyz`); anything else, and any request whose credentials do
 * not check out, gets kube-apiserver's 401 Status.
 */
export interface ApiAuthentication {
  /** The user a bearer token authenticates, or undefined to refuse it. Asked on every request, so tokens can rotate. */
  token?: (token: string) => string | undefined;
}

/** Paths kube-apiserver's default RBAC lets anonymous users read (system:public-info-viewer). */
const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);

const UNAUTHORIZED = new StatusError(401, 'Unauthorized', 'Unauthorized');

export interface ApiServerDeps {
  api: ClusterApi;
  registry: ResourceRegistry;
  minorVersion: string;
  hooks: ApiHooks;
  logs: PodLogSource;
  bookmarkIntervalMs: number;
  /** Without it every request is let in (plain-HTTP simulators for tests and local mode). */
  authentication?: ApiAuthentication;
}

interface ResourcePath {
  resource: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  watchPath: boolean;
}

const NOT_FOUND = new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseBody(raw: Buffer, contentType: string): unknown {
  if (contentType === 'application/vnd.kubernetes.protobuf') return decodeProtobufBody(raw);
  const text = raw.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    // Apply bodies are YAML by media type but JSON in practice (kubectl, client-node); JSON.parse is much faster.
    if (contentType.includes('yaml') && !text.trimStart().startsWith('{')) return parseYaml(text) as unknown;
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw StatusError.badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
}

function boolParam(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  return v === 'true' || v === '1' || v === '';
}

/**
 * The HTTP face of one simulated cluster: discovery, OpenAPI, CRUD, the four patch types, subresources, watch,
 * pod logs, with every failure rendered as a `kind: Status` body.
 */
export class ApiServer {
  private readonly watches = new Set<ServerResponse>();

  constructor(private readonly deps: ApiServerDeps) {}

  /** Ends every open watch stream cleanly, as an apiserver restart or a load-balancer timeout would. */
  dropWatches(): number {
    const n = this.watches.size;
    for (const w of [...this.watches]) w.end();
    this.watches.clear();
    return n;
  }

  get openWatches(): number {
    return this.watches.size;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.route(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof StatusError) sendJson(res, err.code, err.toStatus());
      else
        sendJson(
          res,
          500,
          new StatusError(
            500,
            'InternalError',
            `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`,
          ).toStatus(),
        );
    });
  }

  private parseResourcePath(apiVersion: string, segs: string[]): ResourcePath | undefined {
    const { registry } = this.deps;
    let watchPath = false;
    if (segs[0] === 'watch') {
      watchPath = true;
      segs = segs.slice(1);
    }
    if (segs[0] === 'namespaces' && segs.length >= 3 && segs[1]) {
      const r = registry.byPlural(apiVersion, segs[2] ?? '');
      if (r?.namespaced) return { resource: r, namespace: segs[1], name: segs[3], subresource: segs[4], watchPath };
    }
    const r = registry.byPlural(apiVersion, segs[0] ?? '');
    if (!r) return undefined;
    return { resource: r, name: segs[1], subresource: segs[2], watchPath };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kube-sim');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    const info: RequestInfo = {
      method,
      path,
      query: url.searchParams,
      contentType,
      userAgent: req.headers['user-agent'] ?? '',
      verb: 'other',
    };
    if (this.deps.authentication) info.user = this.authenticate(req, path, this.deps.authentication);
    const segs = path.split('/').filter((s) => s.length > 0);
    let rp: ResourcePath | undefined;
    let apiVersion: string | undefined;
    if (segs[0] === 'api' && segs[1]) {
      apiVersion = segs[1];
      rp = this.parseResourcePath(apiVersion, segs.slice(2));
    } else if (segs[0] === 'apis' && segs[1] && segs[2]) {
      apiVersion = `${segs[1]}/${segs[2]}`;
      rp = this.parseResourcePath(apiVersion, segs.slice(3));
    }
    if (rp) {
      info.resource = rp.resource;
      info.namespace = rp.namespace;
      info.name = rp.name;
      info.subresource = rp.subresource;
      info.verb = this.verbOf(method, rp, url.searchParams);
    }
    await this.deps.hooks.beforeRequest(info);

    if (!rp) {
      this.serveNonResource(method, path, segs, apiVersion, res);
      return;
    }
    const accept = req.headers.accept ?? '';
    await this.serveResource(req, res, info, rp, accept);
  }

  /** The authenticated user, `system:anonymous` on a public path, or a thrown 401. */
  private authenticate(req: IncomingMessage, path: string, auth: ApiAuthentication): string {
    // The certificate is tried first and, if it does not check out, the token after it: kube-apiserver's union
    // authenticator answers 401 only when every authenticator has failed.
    const socket = req.socket;
    if (socket instanceof TLSSocket && socket.authorized) {
      const cn = socket.getPeerCertificate().subject?.CN;
      if (cn) return Array.isArray(cn) ? (cn[0] ?? '') : cn;
    }
    const header = req.headers.authorization;
    const bearer = header && /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const user = bearer ? auth.token?.(bearer) : undefined;
    if (user) return user;
    const presented = header !== undefined || (socket instanceof TLSSocket && socket.getPeerCertificate().subject);
    if (!presented && PUBLIC_PATHS.has(path)) return 'system:anonymous';
    throw UNAUTHORIZED;
  }

  private verbOf(method: string, rp: ResourcePath, q: URLSearchParams): Verb {
    switch (method) {
      case 'GET':
        if (rp.watchPath || boolParam(q, 'watch')) return 'watch';
        return rp.name ? 'get' : 'list';
      case 'POST':
        return 'create';
      case 'PUT':
        return 'update';
      case 'PATCH':
        return 'patch';
      case 'DELETE':
        return rp.name ? 'delete' : 'deletecollection';
      default:
        return 'other';
    }
  }

  private serveNonResource(
    method: string,
    path: string,
    segs: string[],
    apiVersion: string | undefined,
    res: ServerResponse,
  ): void {
    const { registry } = this.deps;
    if (method !== 'GET')
      throw new StatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    if (path === '/version') return sendJson(res, 200, versionBody(this.deps.minorVersion));
    if (path === '/healthz' || path === '/readyz' || path === '/livez') return sendText(res, 200, 'ok');
    if (path === '/api') return sendJson(res, 200, coreVersions());
    if (path === '/apis') return sendJson(res, 200, groupList(registry));
    if (path === '/openapi/v3') return sendJson(res, 200, openApiIndex(registry));
    if (segs[0] === 'openapi' && segs[1] === 'v3') {
      const gv = segs[2] === 'api' ? segs[3] : segs.slice(3).join('/');
      const doc = gv ? openApiDocument(registry, gv) : undefined;
      if (doc) return sendJson(res, 200, doc);
      throw NOT_FOUND;
    }
    if (segs[0] === 'apis' && segs.length === 2 && segs[1]) {
      const g = group(registry, segs[1]);
      if (g) return sendJson(res, 200, g);
      throw NOT_FOUND;
    }
    if (apiVersion && ((segs[0] === 'api' && segs.length === 2) || (segs[0] === 'apis' && segs.length === 3))) {
      const list = resourceList(registry, apiVersion);
      if (list) return sendJson(res, 200, list);
    }
    throw NOT_FOUND;
  }

  private async serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo,
    rp: ResourcePath,
    accept: string,
  ): Promise<void> {
    const { api } = this.deps;
    const r = rp.resource;
    const q = info.query;
    const dryRun = q.getAll('dryRun').includes('All');
    const fieldManager = q.get('fieldManager') ?? (info.userAgent.split('/')[0] || undefined);
    const sub = rp.subresource;
    if (
      sub !== undefined &&
      sub !== 'status' &&
      sub !== 'scale' &&
      !(sub === 'log' && r.kind === 'Pod') &&
      !(sub === 'finalize' && r.kind === 'Namespace')
    )
      throw NOT_FOUND;
    if ((sub === 'status' || sub === 'scale') && !r.subresources.includes(sub)) throw NOT_FOUND;
    const subresource: Subresource | undefined = sub === 'status' || sub === 'scale' ? sub : undefined;

    switch (info.verb) {
      case 'watch':
        return this.serveWatch(req, res, info, r, rp.namespace, rp.name, accept);
      case 'list': {
        const items = api.list(r, rp.namespace, {
          labelSelector: parseLabelSelector(q.get('labelSelector')),
          fieldSelector: parseFieldSelector(q.get('fieldSelector')),
        });
        const rv = String(api.store.currentRv());
        const limit = Number(q.get('limit') ?? 0);
        let start = 0;
        const cont = q.get('continue');
        if (cont) {
          try {
            start = (JSON.parse(Buffer.from(cont, 'base64').toString('utf8')) as { start: number }).start;
          } catch {
            throw StatusError.badRequest('continue key is not valid');
          }
        }
        const page = limit > 0 ? items.slice(start, start + limit) : items.slice(start);
        const next =
          limit > 0 && start + limit < items.length
            ? Buffer.from(JSON.stringify({ start: start + limit, rv })).toString('base64')
            : undefined;
        if (wantsTable(accept)) return sendJson(res, 200, renderTable(r, page, rv, api.clock.now(), next));
        return sendJson(res, 200, {
          kind: `${r.kind}List`,
          apiVersion: r.apiVersion,
          metadata: {
            resourceVersion: rv,
            ...(next ? { continue: next, remainingItemCount: items.length - start - limit } : {}),
          },
          items: page,
        });
      }
      case 'get': {
        const name = rp.name ?? '';
        if (sub === 'log') return this.serveLog(req, res, api.get(r, rp.namespace, name), q);
        const obj = api.get(r, rp.namespace, name);
        if (subresource === 'scale') return sendJson(res, 200, api.scaleOf(r, obj));
        if (wantsTable(accept))
          return sendJson(res, 200, renderTable(r, [obj], obj.metadata.resourceVersion ?? '', api.clock.now()));
        return sendJson(res, 200, obj);
      }
      case 'create': {
        const body = parseBody(await readBody(req), info.contentType);
        if (rp.name)
          throw new StatusError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        return sendJson(res, 201, api.create(r, rp.namespace, body, { fieldManager, dryRun }));
      }
      case 'update': {
        const body = parseBody(await readBody(req), info.contentType);
        const out = api.update(r, rp.namespace, rp.name ?? '', body, {
          fieldManager,
          dryRun,
          ...(subresource ? { subresource } : {}),
        });
        return sendJson(res, 200, out);
      }
      case 'patch': {
        const type = PATCH_CONTENT_TYPES[info.contentType];
        if (!type)
          throw new StatusError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_CONTENT_TYPES).join(', ')}`,
          );
        const body = parseBody(await readBody(req), type === 'apply' ? 'yaml' : 'json');
        const existed = !!api.tryGet(r, rp.namespace, rp.name ?? '');
        const force = boolParam(q, 'force');
        const out = api.patch(r, rp.namespace, rp.name ?? '', type, body, {
          fieldManager: q.get('fieldManager') ?? (type === 'apply' ? undefined : fieldManager),
          dryRun,
          ...(force !== undefined ? { force } : {}),
          ...(subresource ? { subresource } : {}),
        });
        return sendJson(res, existed ? 200 : 201, out);
      }
      case 'delete': {
        // DeleteOptions sent as protobuf by typed clients are ignored: the defaults (Background) apply.
        const raw = await readBody(req);
        const body = info.contentType === 'application/vnd.kubernetes.protobuf' ? undefined : parseBody(raw, 'json');
        const opts = isRecord(body) ? body : {};
        const policy = (q.get('propagationPolicy') ?? opts.propagationPolicy) as PropagationPolicy | undefined;
        const orphan = q.get('orphanDependents') ?? opts.orphanDependents;
        const grace = q.get('gracePeriodSeconds') ?? opts.gracePeriodSeconds;
        const pre = isRecord(opts.preconditions)
          ? (opts.preconditions as { uid?: string; resourceVersion?: string })
          : undefined;
        const out = api.delete(r, rp.namespace, rp.name ?? '', {
          propagationPolicy: policy ?? (orphan === true || orphan === 'true' ? 'Orphan' : undefined),
          ...(grace !== undefined && grace !== null ? { gracePeriodSeconds: Number(grace) } : {}),
          dryRun: dryRun || (Array.isArray(opts.dryRun) && opts.dryRun.includes('All')),
          ...(pre ? { preconditions: pre } : {}),
        });
        if (out) return sendJson(res, 200, out);
        return sendJson(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: rp.name, group: r.group, kind: r.plural, uid: undefined },
        });
      }
      case 'deletecollection': {
        const items = api.list(r, rp.namespace, {
          labelSelector: parseLabelSelector(q.get('labelSelector')),
          fieldSelector: parseFieldSelector(q.get('fieldSelector')),
        });
        const policy = (q.get('propagationPolicy') ?? undefined) as PropagationPolicy | undefined;
        const deleted = items.map(
          (o) => api.delete(r, o.metadata.namespace, o.metadata.name ?? '', { propagationPolicy: policy, dryRun }) ?? o,
        );
        return sendJson(res, 200, {
          kind: `${r.kind}List`,
          apiVersion: r.apiVersion,
          metadata: { resourceVersion: String(api.store.currentRv()) },
          items: deleted,
        });
      }
      case 'other':
        throw new StatusError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        );
    }
  }

  private serveWatch(
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo,
    r: ResourceType,
    namespace: string | undefined,
    name: string | undefined,
    accept: string,
  ): void {
    const { api, bookmarkIntervalMs } = this.deps;
    const q = info.query;
    const labels = parseLabelSelector(q.get('labelSelector'));
    const fields = parseFieldSelector(q.get('fieldSelector'));
    if (name) fields.push({ path: 'metadata.name', op: 'eq', value: name });
    const bookmarks = boolParam(q, 'allowWatchBookmarks') === true;
    const asTable = wantsTable(accept);
    const matches = (o: KubeObject | undefined): boolean =>
      !!o &&
      (!r.namespaced || !namespace || o.metadata.namespace === namespace) &&
      matchesSelector(labels, o.metadata.labels) &&
      matchesFields(fields, o);

    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache, private',
    });
    res.flushHeaders();
    const write = (type: WatchEventType | 'BOOKMARK' | 'ERROR', object: unknown): void => {
      const obj =
        asTable && (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')
          ? renderTable(
              r,
              [object as KubeObject],
              (object as KubeObject).metadata.resourceVersion ?? '',
              api.clock.now(),
            )
          : object;
      res.write(`${JSON.stringify({ type, object: obj })}\n`);
    };
    const expire = (requested: string): void => {
      write(
        'ERROR',
        new StatusError(410, 'Expired', `too old resource version: ${requested} (${api.store.oldestRv()})`).toStatus(),
      );
      res.end();
    };
    if (this.deps.hooks.takeWatchExpiry(info)) return expire(q.get('resourceVersion') ?? '0');

    const deliver = (e: StoreEvent): void => {
      if (e.resource.key !== r.key) return;
      const now = matches(e.object);
      const before = e.type === 'MODIFIED' && matches(e.previous);
      if (e.type === 'MODIFIED') {
        if (now && before) write('MODIFIED', e.object);
        else if (now) write('ADDED', e.object);
        else if (before) write('DELETED', e.object);
      } else if (now) write(e.type, e.object);
    };

    const rvParam = q.get('resourceVersion');
    const sendInitial = boolParam(q, 'sendInitialEvents') === true;
    if (!rvParam || rvParam === '0' || sendInitial) {
      for (const o of api.list(r, namespace, { labelSelector: labels, fieldSelector: fields })) write('ADDED', o);
      if (sendInitial)
        write('BOOKMARK', {
          kind: r.kind,
          apiVersion: r.apiVersion,
          metadata: {
            resourceVersion: String(api.store.currentRv()),
            annotations: { 'k8s.io/initial-events-end': 'true' },
          },
        });
    } else {
      const events = api.store.eventsAfter(Number(rvParam));
      if (events === 'expired' || Number.isNaN(Number(rvParam))) return expire(rvParam);
      for (const e of events) deliver(e);
    }
    const unsubscribe = api.store.subscribe(deliver);
    this.watches.add(res);
    const timers: NodeJS.Timeout[] = [];
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? 0);
    if (timeoutSeconds > 0) timers.push(setTimeout(() => res.end(), timeoutSeconds * 1000));
    if (bookmarks)
      timers.push(
        setInterval(
          () =>
            write('BOOKMARK', {
              kind: r.kind,
              apiVersion: r.apiVersion,
              metadata: { resourceVersion: String(api.store.currentRv()) },
            }),
          bookmarkIntervalMs,
        ),
      );
    for (const t of timers) t.unref();
    const cleanup = (): void => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.watches.delete(res);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
  }

  private serveLog(req: IncomingMessage, res: ServerResponse, pod: KubeObject, q: URLSearchParams): void {
    const { api, logs } = this.deps;
    const container = q.get('container') ?? undefined;
    const containers = (pod.spec as { containers?: { name: string }[] }).containers ?? [];
    if (!container && containers.length > 1)
      throw StatusError.badRequest(
        `a container name must be specified for pod ${pod.metadata.name ?? ''}, choose one of: [${containers.map((c) => c.name).join(' ')}]`,
      );
    if (container && !containers.some((c) => c.name === container))
      throw StatusError.badRequest(`container ${container} is not valid for pod ${pod.metadata.name ?? ''}`);
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    const started = (
      (pod.status as { containerStatuses?: { state?: { waiting?: unknown } }[] } | undefined)?.containerStatuses ?? []
    ).some((c) => !c.state?.waiting);
    if (phase === 'Pending' && !started)
      throw StatusError.badRequest(
        `container "${container ?? containers[0]?.name ?? ''}" in pod "${pod.metadata.name ?? ''}" is waiting to start: ContainerCreating`,
      );
    const previous = boolParam(q, 'previous') === true;
    const tail = q.get('tailLines');
    const select = (lines: string[]): string[] =>
      tail !== null ? lines.slice(Math.max(0, lines.length - Number(tail))) : lines;
    const first = logs.read(pod, container, previous);
    const follow = boolParam(q, 'follow') === true;
    if (!follow || first.finished)
      return sendText(
        res,
        200,
        select(first.lines)
          .map((l) => `${l}\n`)
          .join(''),
      );
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Transfer-Encoding': 'chunked' });
    let sent = 0;
    const flush = (lines: string[]): void => {
      for (const l of lines.slice(sent)) res.write(`${l}\n`);
      sent = lines.length;
    };
    const initial = select(first.lines);
    for (const l of initial) res.write(`${l}\n`);
    sent = first.lines.length;
    const podType = this.deps.registry.mustForKind('v1', 'Pod');
    const unsubscribe = api.store.subscribe((e) => {
      if (e.resource !== podType || e.object.metadata.uid !== pod.metadata.uid) return;
      if (e.type === 'DELETED') {
        res.end();
        return;
      }
      const now = logs.read(e.object, container, false);
      flush(now.lines);
      if (now.finished) res.end();
    });
    const cleanup = (): void => {
      unsubscribe();
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
  }
}
