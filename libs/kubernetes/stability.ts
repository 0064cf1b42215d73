import { type KubeObject, type ObjectStatus } from '@jibe/stages';

/** An object's state by the stability rules, without its ref (the adapter adds it). */
export type Stability = Pick<ObjectStatus, 'state' | 'message'>;

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

type Rule = (obj: KubeObject, name: string) => Stability;

/**
 * Stability per kind, after Spinnaker's manifest handlers (docs/spinnaker.md#stability) and kubectl's rollout
 * status (docs/spinnaker.md#rollout-status): "stable" means the controller has nothing left to do, "failed"
 * that it never will. Kinds without a rule are stable as soon as they exist. Messages are for people and name the
 * kind and object, with Kubernetes' own reason and message when it gave one.
 */
export function stabilityOf(obj: KubeObject): Stability {
  const name = `${obj.kind} ${obj.metadata.name ?? ''}`;
  const rule = RULES[obj.kind];
  return rule ? rule(obj, name) : { state: 'stable', message: `${name} exists` };
}

const RULES: Record<string, Rule> = {
  Deployment: deployment,
  ReplicaSet: replicaSet,
  StatefulSet: statefulSet,
  DaemonSet: daemonSet,
  Job: job,
  Pod: pod,
  Service: service,
  Ingress: (obj, name) => loadBalancer(obj, name, 'an address'),
  PersistentVolumeClaim: pvc,
};

const num = (value: unknown, fallback = 0): number => (typeof value === 'number' ? value : fallback);
const progressing = (message: string): Stability => ({ state: 'progressing', message });
const stable = (message: string): Stability => ({ state: 'stable', message });
const failed = (message: string): Stability => ({ state: 'failed', message });

function conditions(obj: KubeObject): Condition[] {
  const list = obj.status?.['conditions'];
  return Array.isArray(list) ? (list as Condition[]) : [];
}

function condition(obj: KubeObject, type: string): Condition | undefined {
  return conditions(obj).find((c) => c.type === type);
}

function explain(c: Condition): string {
  return [c.reason, c.message].filter(Boolean).join(': ');
}

/** Null once the controller has seen the latest spec; otherwise why we are still waiting. */
function unobserved(obj: KubeObject, name: string): Stability | null {
  if (!obj.status) return progressing(`${name}: no status reported yet`);
  const observed = obj.status['observedGeneration'];
  const generation = obj.metadata.generation;
  if (generation !== undefined && (typeof observed !== 'number' || observed < generation))
    return progressing(`${name}: waiting for the controller to observe generation ${generation}`);
  return null;
}

function deployment(obj: KubeObject, name: string): Stability {
  const progress = condition(obj, 'Progressing');
  // Checked before the generation: a deadline already passed is final whatever else is pending.
  if (progress?.reason === 'ProgressDeadlineExceeded') return failed(`${name}: ${explain(progress)}`);
  const waiting = unobserved(obj, name);
  if (waiting) return waiting;
  if (obj.spec?.['paused'] === true || progress?.reason === 'DeploymentPaused')
    return progressing(`${name}: rollout is paused`);
  const status = obj.status ?? {};
  const desired = num(obj.spec?.['replicas'], 1);
  const updated = num(status['updatedReplicas']);
  const replicas = num(status['replicas']);
  const available = num(status['availableReplicas']);
  const ready = num(status['readyReplicas']);
  if (updated < desired) return progressing(`${name}: ${updated} of ${desired} replicas updated`);
  if (replicas > updated)
    return progressing(
      `${name}: ${replicas - updated} old replica${replicas - updated === 1 ? '' : 's'} pending termination`,
    );
  if (available < desired) return progressing(`${name}: ${available} of ${desired} updated replicas available`);
  if (ready < desired) return progressing(`${name}: ${ready} of ${desired} updated replicas ready`);
  const availability = condition(obj, 'Available');
  if (availability?.status === 'False') return progressing(`${name}: ${explain(availability)}`);
  return stable(`${name}: ${desired} of ${desired} replicas updated and available`);
}

function replicaSet(obj: KubeObject, name: string): Stability {
  const waiting = unobserved(obj, name);
  if (waiting) return waiting;
  const status = obj.status ?? {};
  const desired = num(obj.spec?.['replicas'], 1);
  const failure = condition(obj, 'ReplicaFailure');
  const suffix = failure?.status === 'True' ? ` (${explain(failure)})` : '';
  for (const [field, word] of [
    ['fullyLabeledReplicas', 'labeled'],
    ['availableReplicas', 'available'],
    ['readyReplicas', 'ready'],
  ] as const) {
    const count = num(status[field]);
    if (count < desired) return progressing(`${name}: ${count} of ${desired} replicas ${word}${suffix}`);
  }
  return stable(`${name}: ${desired} of ${desired} replicas available`);
}

function statefulSet(obj: KubeObject, name: string): Stability {
  const waiting = unobserved(obj, name);
  if (waiting) return waiting;
  const strategy = obj.spec?.['updateStrategy'] as
    { type?: string; rollingUpdate?: { partition?: number } } | undefined;
  if (strategy?.type === 'OnDelete') return stable(`${name}: updates happen when pods are deleted (OnDelete)`);
  const status = obj.status ?? {};
  const desired = num(obj.spec?.['replicas'], 1);
  const replicas = num(status['replicas']);
  const ready = num(status['readyReplicas']);
  if (replicas < desired) return progressing(`${name}: ${replicas} of ${desired} replicas created`);
  if (ready < desired) return progressing(`${name}: ${ready} of ${desired} replicas ready`);
  const partition = num(strategy?.rollingUpdate?.partition);
  if (partition > 0) {
    const updated = num(status['updatedReplicas']);
    if (updated < desired - partition)
      return progressing(`${name}: ${updated} of ${desired - partition} replicas above partition ${partition} updated`);
    return stable(`${name}: partitioned rollout done (${desired - partition} updated, partition ${partition})`);
  }
  const current = num(status['currentReplicas']);
  if (current < desired) return progressing(`${name}: ${current} of ${desired} replicas at the current revision`);
  if (status['currentRevision'] !== status['updateRevision'])
    return progressing(`${name}: rolling out revision ${String(status['updateRevision'])}`);
  return stable(`${name}: ${desired} of ${desired} replicas ready at revision ${String(status['currentRevision'])}`);
}

function daemonSet(obj: KubeObject, name: string): Stability {
  const waiting = unobserved(obj, name);
  if (waiting) return waiting;
  const status = obj.status ?? {};
  const desired = num(status['desiredNumberScheduled']);
  for (const [field, word] of [
    ['currentNumberScheduled', 'scheduled'],
    ['updatedNumberScheduled', 'updated'],
    ['numberAvailable', 'available'],
    ['numberReady', 'ready'],
  ] as const) {
    const count = num(status[field]);
    if (count < desired) return progressing(`${name}: ${count} of ${desired} pods ${word}`);
  }
  return stable(`${name}: ${desired} of ${desired} pods updated and available`);
}

function job(obj: KubeObject, name: string): Stability {
  const status = obj.status ?? {};
  const completions = num(obj.spec?.['completions'], 1);
  const succeeded = num(status['succeeded']);
  const complete = condition(obj, 'Complete');
  if (complete?.status === 'True' || succeeded >= completions)
    return stable(`${name}: complete (${succeeded} of ${completions} succeeded)`);
  const failure = condition(obj, 'Failed');
  if (failure?.status === 'True') return failed(`${name}: ${explain(failure) || 'failed'}`);
  const active = num(status['active']);
  const failures = num(status['failed']);
  return progressing(
    `${name}: ${succeeded} of ${completions} completions, ${active} running${failures ? `, ${failures} failed` : ''}`,
  );
}

function pod(obj: KubeObject, name: string): Stability {
  const phase = obj.status?.['phase'];
  if (phase === 'Succeeded') return stable(`${name}: succeeded`);
  if (phase === 'Failed') {
    const reason = [obj.status?.['reason'], obj.status?.['message']].filter(Boolean).join(': ');
    return failed(`${name}: failed${reason ? ` (${String(reason)})` : ''}`);
  }
  const scheduled = condition(obj, 'PodScheduled');
  if (scheduled?.status !== 'True')
    return progressing(`${name}: not scheduled yet${scheduled ? ` (${explain(scheduled)})` : ''}`);
  if (condition(obj, 'Ready')?.status === 'True') return stable(`${name}: running and ready`);
  const statuses = (obj.status?.['containerStatuses'] ?? []) as {
    name?: string;
    state?: { waiting?: { reason?: string; message?: string } };
  }[];
  const stuck = statuses.find((c) => c.state?.waiting?.reason);
  if (stuck) return progressing(`${name}: container ${stuck.name ?? '?'} waiting (${explain(stuck.state!.waiting!)})`);
  return progressing(`${name}: ${typeof phase === 'string' ? phase : 'Pending'}, not ready yet`);
}

function service(obj: KubeObject, name: string): Stability {
  if (obj.spec?.['type'] !== 'LoadBalancer') return stable(`${name} exists`);
  return loadBalancer(obj, name, 'a load balancer');
}

function loadBalancer(obj: KubeObject, name: string, what: string): Stability {
  const ingress = (obj.status?.['loadBalancer'] as { ingress?: { ip?: string; hostname?: string }[] } | undefined)
    ?.ingress;
  const first = ingress?.[0];
  if (!first) return progressing(`${name}: waiting for ${what}`);
  return stable(`${name}: served at ${first.ip ?? first.hostname ?? '?'}`);
}

function pvc(obj: KubeObject, name: string): Stability {
  const phase = obj.status?.['phase'];
  if (phase === 'Bound') return stable(`${name}: bound`);
  if (phase === 'Lost') return failed(`${name}: lost its volume`);
  return progressing(`${name}: waiting to be bound (${typeof phase === 'string' ? phase : 'Pending'})`);
}
