import {
  type Condition,
  type Deployment,
  type DeploymentStatus,
  type PodTemplateSpec,
  type ReplicaSet,
  cloneJson,
  deepEqual,
  getCondition,
  safeHash,
  stableStringify,
} from '../kube-object';
import { type StoreEvent } from '../object-store';
import { type Controller, type ControllerContext } from './controller-context';
import { Resync, ownerRef } from './pod-helpers';

const REVISION = 'deployment.kubernetes.io/revision';
const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
const DESIRED = 'deployment.kubernetes.io/desired-replicas';
const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
const HASH_LABEL = 'pod-template-hash';

/** `25%` of `total`, rounded up for surge and down for unavailability (intstr.GetScaledValueFromIntOrPercent). */
export function resolveIntOrPercent(value: number | string | undefined, total: number, roundUp: boolean): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value);
  if (!m?.[1]) return Number(value) || 0;
  const raw = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(raw) : Math.floor(raw);
}

function revisionOf(rs: ReplicaSet): number {
  return Number(rs.metadata.annotations?.[REVISION] ?? 0) || 0;
}

function withoutHash(t: PodTemplateSpec): PodTemplateSpec {
  const copy = cloneJson(t);
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[HASH_LABEL];
    if (Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  }
  return copy;
}

function replicas(rs: ReplicaSet): number {
  return rs.spec.replicas ?? 0;
}

/**
 * The Deployment controller (kubernetes pkg/controller/deployment): one ReplicaSet per pod template, rolling
 * updates bounded by maxSurge/maxUnavailable, Recreate, revisions and rollback reuse, history cleanup, and the
 * Available/Progressing conditions including ProgressDeadlineExceeded on the cluster clock.
 */
export class DeploymentController implements Controller {
  private readonly resync: Resync;

  constructor(private readonly ctx: ControllerContext) {
    this.resync = new Resync(ctx);
  }

  onEvent(e: StoreEvent): void {
    const { types, store } = this.ctx;
    if (e.resource === types.deployment) {
      if (e.type !== 'DELETED') this.enqueue(e.object.metadata.namespace ?? '', e.object.metadata.name ?? '');
    } else if (e.resource === types.replicaSet) {
      const owner = e.object.metadata.ownerReferences?.find((o) => o.controller && o.kind === 'Deployment');
      if (owner && store.findByUid(owner.uid)) this.enqueue(e.object.metadata.namespace ?? '', owner.name);
    }
  }

  private key(ns: string, name: string): string {
    return `deployment/${ns}/${name}`;
  }

  private enqueue(ns: string, name: string): void {
    this.ctx.queue.enqueue(this.key(ns, name), () => this.sync(ns, name));
  }

  private ownedReplicaSets(d: Deployment): ReplicaSet[] {
    const uid = d.metadata.uid ?? '';
    return this.ctx.store
      .dependents(uid)
      .filter(
        (x) =>
          x.resource === this.ctx.types.replicaSet &&
          x.object.metadata.ownerReferences?.some((o) => o.uid === uid && o.controller === true),
      )
      .map((x) => x.object as ReplicaSet);
  }

  private scale(rs: ReplicaSet, to: number, d: Deployment, maxSurge: number): void {
    const desired = d.spec.replicas ?? 1;
    const annotations = {
      ...(rs.metadata.annotations ?? {}),
      [DESIRED]: String(desired),
      [MAX_REPLICAS]: String(desired + maxSurge),
    };
    if (replicas(rs) === to && deepEqual(annotations, rs.metadata.annotations)) return;
    this.ctx.api.replace(this.ctx.types.replicaSet, {
      ...rs,
      metadata: { ...rs.metadata, annotations },
      spec: { ...rs.spec, replicas: to },
    });
  }

  private sync(ns: string, name: string): void {
    const { api, types } = this.ctx;
    const d = api.tryGet(types.deployment, ns, name) as Deployment | undefined;
    if (!d || d.metadata.deletionTimestamp) return;
    const desired = d.spec.replicas ?? 1;
    const strategy = d.spec.strategy ?? {};
    const rolling = strategy.type !== 'Recreate';
    const maxSurge = rolling ? resolveIntOrPercent(strategy.rollingUpdate?.maxSurge ?? '25%', desired, true) : 0;
    let maxUnavailable = rolling
      ? resolveIntOrPercent(strategy.rollingUpdate?.maxUnavailable ?? '25%', desired, false)
      : 0;
    if (rolling && maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;

    let all = this.ownedReplicaSets(d);
    const wanted = withoutHash(d.spec.template);
    let newRS = all.find((rs) => deepEqual(withoutHash(rs.spec.template), wanted));
    const maxOldRevision = Math.max(0, ...all.filter((rs) => rs !== newRS).map(revisionOf));
    let reason: { reason: string; message: string } | undefined;

    if (!d.spec.paused) {
      if (!newRS) {
        newRS = this.createReplicaSet(d, all, maxOldRevision + 1, maxSurge, rolling);
        if (!newRS) return;
        all = [...all, newRS];
        reason = { reason: 'NewReplicaSetCreated', message: `Created new replica set "${newRS.metadata.name ?? ''}"` };
      } else if (revisionOf(newRS) <= maxOldRevision) {
        const oldRevision = revisionOf(newRS);
        const history = [newRS.metadata.annotations?.[REVISION_HISTORY], String(oldRevision)]
          .filter((x) => x)
          .join(',');
        newRS = api.replace(types.replicaSet, {
          ...newRS,
          metadata: {
            ...newRS.metadata,
            annotations: {
              ...(newRS.metadata.annotations ?? {}),
              [REVISION]: String(maxOldRevision + 1),
              [REVISION_HISTORY]: history,
            },
          },
        }) as ReplicaSet;
        all = all.map((rs) => (rs.metadata.uid === newRS?.metadata.uid ? (newRS as ReplicaSet) : rs));
        reason = { reason: 'FoundNewReplicaSet', message: `Found new replica set "${newRS.metadata.name ?? ''}"` };
      }
    }

    const revision = newRS ? String(revisionOf(newRS)) : d.metadata.annotations?.[REVISION];
    let dep = d;
    if (revision && d.metadata.annotations?.[REVISION] !== revision)
      dep = api.replace(types.deployment, {
        ...d,
        metadata: { ...d.metadata, annotations: { ...(d.metadata.annotations ?? {}), [REVISION]: revision } },
      }) as Deployment;

    const old = all.filter((rs) => rs !== newRS);
    if (d.spec.paused) {
      // Paused: only proportional scaling of the current RS, no rollout (sync.go `sync`).
      if (newRS && old.every((rs) => replicas(rs) === 0) && replicas(newRS) !== desired)
        this.scale(newRS, desired, d, maxSurge);
    } else if (newRS && !rolling) {
      const oldActive = old.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0);
      for (const rs of old) if (replicas(rs) > 0) this.scale(rs, 0, d, 0);
      if (oldActive === 0 && old.every((rs) => replicas(rs) === 0)) this.scale(newRS, desired, d, 0);
    } else if (newRS) {
      this.rollingStep(d, newRS, old, desired, maxSurge, maxUnavailable);
    }

    const fresh = this.ownedReplicaSets(d);
    const freshNew = fresh.find((rs) => rs.metadata.uid === newRS?.metadata.uid);
    this.cleanup(dep, fresh, freshNew);
    this.writeStatus(dep, fresh, freshNew, desired, maxUnavailable, reason);
  }

  private createReplicaSet(
    d: Deployment,
    all: ReplicaSet[],
    revision: number,
    maxSurge: number,
    rolling: boolean,
  ): ReplicaSet | undefined {
    const desired = d.spec.replicas ?? 1;
    const collision = d.status?.collisionCount ?? 0;
    const hash = safeHash(stableStringify(withoutHash(d.spec.template)) + (collision ? String(collision) : ''));
    const template = cloneJson(d.spec.template);
    template.metadata = {
      ...(template.metadata ?? {}),
      labels: { ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash },
    };
    const current = all.reduce((n, rs) => n + replicas(rs), 0);
    const start = rolling
      ? Math.max(0, Math.min(desired + maxSurge - current, desired))
      : all.some((rs) => replicas(rs) > 0 || (rs.status?.replicas ?? 0) > 0)
        ? 0
        : desired;
    const body = {
      metadata: {
        name: `${d.metadata.name ?? ''}-${hash}`,
        labels: template.metadata.labels,
        annotations: {
          [REVISION]: String(revision),
          [DESIRED]: String(desired),
          [MAX_REPLICAS]: String(desired + maxSurge),
        },
        ownerReferences: [ownerRef(d)],
      },
      spec: {
        replicas: start,
        minReadySeconds: d.spec.minReadySeconds ?? 0,
        selector: { ...d.spec.selector, matchLabels: { ...(d.spec.selector.matchLabels ?? {}), [HASH_LABEL]: hash } },
        template,
      },
    };
    try {
      return this.ctx.api.create(this.ctx.types.replicaSet, d.metadata.namespace, body) as ReplicaSet;
    } catch {
      // A ReplicaSet of that name exists but is not ours (or differs): bump collisionCount and hash again next time.
      this.ctx.api.replaceStatus(this.ctx.types.deployment, d, { ...(d.status ?? {}), collisionCount: collision + 1 });
      return undefined;
    }
  }

  private rollingStep(
    d: Deployment,
    newRS: ReplicaSet,
    old: ReplicaSet[],
    desired: number,
    maxSurge: number,
    maxUnavailable: number,
  ): void {
    const all = [newRS, ...old];
    const total = all.reduce((n, rs) => n + replicas(rs), 0);
    if (replicas(newRS) > desired) {
      this.scale(newRS, desired, d, maxSurge);
      return;
    }
    if (replicas(newRS) < desired) {
      const room = desired + maxSurge - total;
      if (room > 0) {
        this.scale(newRS, replicas(newRS) + Math.min(room, desired - replicas(newRS)), d, maxSurge);
        return;
      }
    } else this.scale(newRS, desired, d, maxSurge);
    const oldCount = old.reduce((n, rs) => n + replicas(rs), 0);
    if (oldCount === 0) return;
    const minAvailable = desired - maxUnavailable;
    const newUnavailable = replicas(newRS) - (newRS.status?.availableReplicas ?? 0);
    let budget = total - minAvailable - newUnavailable;
    if (budget <= 0) return;
    const oldest = [...old].sort((a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
    );
    const target = new Map(oldest.map((rs) => [rs.metadata.uid ?? '', replicas(rs)]));
    for (const rs of oldest) {
      if (budget <= 0) break;
      const unhealthy = replicas(rs) - (rs.status?.availableReplicas ?? 0);
      const cut = Math.min(unhealthy, budget);
      if (cut > 0) {
        target.set(rs.metadata.uid ?? '', replicas(rs) - cut);
        budget -= cut;
      }
    }
    const available = all.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
    let scaleDown = Math.min(available - minAvailable, budget);
    for (const rs of oldest) {
      if (scaleDown <= 0) break;
      const now = target.get(rs.metadata.uid ?? '') ?? 0;
      const cut = Math.min(now, scaleDown);
      target.set(rs.metadata.uid ?? '', now - cut);
      scaleDown -= cut;
    }
    for (const rs of oldest) {
      const to = target.get(rs.metadata.uid ?? '') ?? replicas(rs);
      if (to !== replicas(rs)) this.scale(rs, to, d, maxSurge);
    }
  }

  private cleanup(d: Deployment, all: ReplicaSet[], newRS: ReplicaSet | undefined): void {
    const limit = d.spec.revisionHistoryLimit ?? 10;
    const dead = all
      .filter(
        (rs) =>
          rs !== newRS && replicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata.deletionTimestamp,
      )
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of dead.slice(0, Math.max(0, dead.length - limit))) {
      try {
        this.ctx.api.delete(this.ctx.types.replicaSet, rs.metadata.namespace, rs.metadata.name ?? '', {
          propagationPolicy: 'Background',
        });
      } catch {
        // Already deleted.
      }
    }
  }

  private writeStatus(
    d: Deployment,
    all: ReplicaSet[],
    newRS: ReplicaSet | undefined,
    desired: number,
    maxUnavailable: number,
    reason?: { reason: string; message: string },
  ): void {
    const { api, types, clock } = this.ctx;
    const now = clock.now();
    const ts = api.timestamp();
    const prev = d.status ?? {};
    const sum = (f: (rs: ReplicaSet) => number): number => all.reduce((n, rs) => n + f(rs), 0);
    const specTotal = sum(replicas);
    const status: DeploymentStatus = {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: sum((rs) => rs.status?.replicas ?? 0),
      updatedReplicas: newRS?.status?.replicas ?? 0,
      readyReplicas: sum((rs) => rs.status?.readyReplicas ?? 0),
      availableReplicas: sum((rs) => rs.status?.availableReplicas ?? 0),
      unavailableReplicas: 0,
      ...(prev.collisionCount !== undefined ? { collisionCount: prev.collisionCount } : {}),
    };
    status.unavailableReplicas = Math.max(0, specTotal - (status.availableReplicas ?? 0));
    const conditions: Condition[] = [];
    const set = (c: Omit<Condition, 'lastTransitionTime' | 'lastUpdateTime'>, touch: boolean): void => {
      const existing = getCondition(prev.conditions, c.type);
      const same = existing && existing.status === c.status && existing.reason === c.reason;
      conditions.push({
        ...c,
        lastUpdateTime: same && !touch ? (existing.lastUpdateTime ?? ts) : ts,
        lastTransitionTime: existing && existing.status === c.status ? (existing.lastTransitionTime ?? ts) : ts,
      });
    };
    const availableOk = (status.availableReplicas ?? 0) >= desired - maxUnavailable;
    set(
      availableOk
        ? {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            message: 'Deployment has minimum availability.',
          }
        : {
            type: 'Available',
            status: 'False',
            reason: 'MinimumReplicasUnavailable',
            message: 'Deployment does not have minimum availability.',
          },
      false,
    );
    const rsName = newRS?.metadata.name ?? '';
    const progressing = getCondition(prev.conditions, 'Progressing');
    const pds = d.spec.progressDeadlineSeconds ?? 600;
    const complete =
      !!newRS &&
      status.updatedReplicas === desired &&
      status.replicas === desired &&
      status.availableReplicas === desired;
    const moved =
      (status.updatedReplicas ?? 0) > (prev.updatedReplicas ?? 0) ||
      (status.readyReplicas ?? 0) > (prev.readyReplicas ?? 0) ||
      (status.availableReplicas ?? 0) > (prev.availableReplicas ?? 0) ||
      (status.replicas ?? 0) - (status.updatedReplicas ?? 0) < (prev.replicas ?? 0) - (prev.updatedReplicas ?? 0) ||
      (prev.observedGeneration ?? 0) < (d.metadata.generation ?? 1);
    if (d.spec.paused)
      set(
        { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' },
        false,
      );
    else if (complete)
      set(
        {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetAvailable',
          message: `ReplicaSet "${rsName}" has successfully progressed.`,
        },
        false,
      );
    else if (reason) set({ type: 'Progressing', status: 'True', ...reason }, true);
    else if (
      moved ||
      !progressing ||
      progressing.reason === 'DeploymentPaused' ||
      progressing.reason === 'NewReplicaSetAvailable'
    )
      set(
        {
          type: 'Progressing',
          status: 'True',
          reason: 'ReplicaSetUpdated',
          message: `ReplicaSet "${rsName}" is progressing.`,
        },
        true,
      );
    else if (
      progressing.reason !== 'ProgressDeadlineExceeded' &&
      Date.parse(progressing.lastUpdateTime ?? ts) + pds * 1000 <= now
    )
      set(
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: `ReplicaSet "${rsName}" has timed out progressing.`,
        },
        true,
      );
    else conditions.push(progressing);
    status.conditions = conditions;
    const p = getCondition(conditions, 'Progressing');
    if (!d.spec.paused && !complete && p && p.reason !== 'ProgressDeadlineExceeded') {
      const deadline = Date.parse(p.lastUpdateTime ?? ts) + pds * 1000;
      const ns = d.metadata.namespace ?? '';
      const name = d.metadata.name ?? '';
      this.resync.at(this.key(ns, name), deadline, () => this.sync(ns, name));
    }
    if (!deepEqual(status, prev)) api.replaceStatus(types.deployment, d, status);
  }
}
