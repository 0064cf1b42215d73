import { type ApiHooks, type RequestInfo, type Verb } from './api-server';
import { type KubeObject, type Pod } from './kube-object';
import { matchesSelector, parseLabelSelector } from './label-selector';
import { StatusError } from './status-error';

/** Effects on pods, applied by the fake kubelet to pods the fault matches when they start. */
export type PodFaultEffect =
  /** Container stays Waiting with ErrImagePull, then ImagePullBackOff; the pod never becomes ready. */
  | { type: 'imagePull' }
  /** Container starts, exits with `exitCode` (default 1) after `afterMs`, and restarts with back-off forever. */
  | { type: 'crashLoop'; exitCode?: number; afterMs?: number }
  /** Container runs but its readiness probe never passes. */
  | { type: 'neverReady' }
  /** Container takes `ms` longer to start. */
  | { type: 'slowStart'; ms: number }
  /** Container exits with `code` (Job pods: the Job sees a failed or succeeded pod). */
  | { type: 'exitCode'; code: number; afterMs?: number }
  /** Extra lines the container prints (e.g. `KEY=VALUE` output a Job is expected to log). */
  | { type: 'logs'; lines: string[] };

/** Effects on API requests the fault matches. */
export type ApiFaultEffect =
  /** Answer with this HTTP status as a Status object. */
  | { type: 'httpError'; code: number; reason?: string; message?: string }
  /** Delay the request by `ms` of real time. */
  | { type: 'latency'; ms: number }
  /** 409 Conflict, as if another writer won the race (matches writes only). */
  | { type: 'conflict' }
  /** The watch ends at once with a 410 Gone (Expired) ERROR event. */
  | { type: 'watchExpire' };

/** The whole cluster stops answering: connections are refused until the fault is removed. */
export type ClusterFaultEffect = { type: 'clusterDown' };

export type FaultEffect = PodFaultEffect | ApiFaultEffect | ClusterFaultEffect;

/** Which pods or requests a fault applies to; every given field must match. */
export interface FaultMatch {
  namespace?: string;
  /** Label selector string (`app=web,tier!=db`), against pod labels or (for API faults) nothing. */
  labelSelector?: string;
  /** Container image; `*` is a wildcard (`ghcr.io/acme/*`). */
  image?: string;
  /** Object name prefix (pod name for pod faults, URL name for API faults). */
  namePrefix?: string;
  /** API faults: verbs to match (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`). */
  verbs?: Verb[];
  /** API faults: resource plural (`deployments`). */
  resource?: string;
  /** API faults: regular expression tested against the URL path. */
  path?: string;
}

export interface FaultSpec {
  match?: FaultMatch;
  effect: FaultEffect;
  /** How many times the fault fires before it removes itself (default: until removed). */
  times?: number;
}

export interface ActiveFault extends FaultSpec {
  id: string;
  fired: number;
}

const POD_EFFECTS = new Set(['imagePull', 'crashLoop', 'neverReady', 'slowStart', 'exitCode', 'logs']);

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return re.test(value);
}

export function isPodEffect(e: FaultEffect): e is PodFaultEffect {
  return POD_EFFECTS.has(e.type);
}

let nextFaultId = 1;

/**
 * The faults switched on for one cluster. Pod faults are read by the kubelet; API faults run before each request;
 * `clusterDown` calls back into the cluster to stop and restart listening.
 */
export class FaultRegistry implements ApiHooks {
  private readonly faults = new Map<string, ActiveFault>();

  constructor(private readonly onClusterDown: (down: boolean) => Promise<void>) {}

  async add(spec: FaultSpec): Promise<string> {
    const id = `fault-${nextFaultId++}`;
    this.faults.set(id, { ...spec, id, fired: 0 });
    if (spec.effect.type === 'clusterDown') await this.onClusterDown(true);
    return id;
  }

  async remove(id: string): Promise<void> {
    const f = this.faults.get(id);
    this.faults.delete(id);
    if (f?.effect.type === 'clusterDown' && !this.list().some((x) => x.effect.type === 'clusterDown'))
      await this.onClusterDown(false);
  }

  async clear(): Promise<void> {
    for (const id of [...this.faults.keys()]) await this.remove(id);
  }

  list(): ActiveFault[] {
    return [...this.faults.values()];
  }

  private fire(f: ActiveFault): void {
    f.fired++;
    if (f.times !== undefined && f.fired >= f.times) void this.remove(f.id);
  }

  /** Pod faults matching this pod; each match counts as one firing. */
  podEffects(pod: Pod): PodFaultEffect[] {
    const out: PodFaultEffect[] = [];
    for (const f of this.list()) {
      if (!isPodEffect(f.effect) || !this.matchesPod(f.match, pod)) continue;
      out.push(f.effect);
      this.fire(f);
    }
    return out;
  }

  private matchesPod(m: FaultMatch | undefined, pod: KubeObject): boolean {
    if (!m) return true;
    if (m.namespace && pod.metadata.namespace !== m.namespace) return false;
    if (m.namePrefix && !(pod.metadata.name ?? '').startsWith(m.namePrefix)) return false;
    if (m.labelSelector && !matchesSelector(parseLabelSelector(m.labelSelector), pod.metadata.labels)) return false;
    const image = m.image;
    if (image && !(pod as Pod).spec.containers.some((c) => globMatch(image, c.image ?? ''))) return false;
    return true;
  }

  private matchesRequest(m: FaultMatch | undefined, info: RequestInfo): boolean {
    if (!m) return true;
    if (m.verbs && !m.verbs.includes(info.verb)) return false;
    if (m.resource && info.resource?.plural !== m.resource) return false;
    if (m.namespace && info.namespace !== m.namespace) return false;
    if (m.namePrefix && !(info.name ?? '').startsWith(m.namePrefix)) return false;
    if (m.path && !new RegExp(m.path).test(info.path)) return false;
    return true;
  }

  async beforeRequest(info: RequestInfo): Promise<void> {
    for (const f of this.list()) {
      const e = f.effect;
      if (!this.matchesRequest(f.match, info)) continue;
      switch (e.type) {
        case 'latency':
          this.fire(f);
          await new Promise((r) => setTimeout(r, e.ms));
          break;
        case 'httpError':
          this.fire(f);
          throw new StatusError(
            e.code,
            e.reason ?? defaultReason(e.code),
            e.message ?? `kube-sim injected fault: HTTP ${e.code}`,
          );
        case 'conflict':
          if (info.verb !== 'update' && info.verb !== 'patch') break;
          this.fire(f);
          throw new StatusError(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${info.resource?.plural ?? 'objects'} "${info.name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        case 'watchExpire':
        case 'clusterDown':
        case 'imagePull':
        case 'crashLoop':
        case 'neverReady':
        case 'slowStart':
        case 'exitCode':
        case 'logs':
          break;
      }
    }
  }

  takeWatchExpiry(info: RequestInfo): boolean {
    const f = this.list().find((x) => x.effect.type === 'watchExpire' && this.matchesRequest(x.match, info));
    if (!f) return false;
    this.fire(f);
    return true;
  }
}

function defaultReason(code: number): string {
  switch (code) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 409:
      return 'Conflict';
    case 410:
      return 'Expired';
    case 429:
      return 'TooManyRequests';
    case 503:
      return 'ServiceUnavailable';
    case 504:
      return 'Timeout';
    default:
      return code >= 500 ? 'InternalError' : 'BadRequest';
  }
}
