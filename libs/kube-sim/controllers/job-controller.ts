import { type Condition, type Job, type Pod, deepEqual, getCondition } from '../kube-object';
import { type StoreEvent } from '../object-store';
import { type Controller, type ControllerContext } from './controller-context';
import { Resync, createPod, deletePod, isActive, isReady, ownedPods } from './pod-helpers';

interface Failure {
  reason: string;
  message: string;
}

/**
 * The Job controller (kubernetes pkg/controller/job): runs `parallelism` pods until `completions` succeed, retries
 * failures with doubling back-off up to `backoffLimit`, honours podFailurePolicy exit-code rules and
 * activeDeadlineSeconds, and sets SuccessCriteriaMet/Complete or FailureTarget/Failed.
 */
export class JobController implements Controller {
  private readonly resync: Resync;

  constructor(private readonly ctx: ControllerContext) {
    this.resync = new Resync(ctx);
  }

  onEvent(e: StoreEvent): void {
    const { types } = this.ctx;
    if (e.resource === types.job) {
      if (e.type !== 'DELETED') this.enqueue(e.object.metadata.namespace ?? '', e.object.metadata.name ?? '');
    } else if (e.resource === types.pod) {
      const owner = e.object.metadata.ownerReferences?.find((o) => o.controller && o.kind === 'Job');
      if (owner) this.enqueue(e.object.metadata.namespace ?? '', owner.name);
    }
  }

  private key(ns: string, name: string): string {
    return `job/${ns}/${name}`;
  }

  private enqueue(ns: string, name: string): void {
    this.ctx.queue.enqueue(this.key(ns, name), () => this.sync(ns, name));
  }

  private policyFailure(job: Job, pods: Pod[]): { fail?: Failure; ignored: Set<string> } {
    const ignored = new Set<string>();
    const rules = job.spec.podFailurePolicy?.rules ?? [];
    if (rules.length === 0) return { ignored };
    for (const pod of pods) {
      if (pod.status?.phase !== 'Failed') continue;
      for (const cs of pod.status.containerStatuses ?? []) {
        const code = cs.state.terminated?.exitCode;
        if (code === undefined || code === 0) continue;
        const index = rules.findIndex((r) => {
          const m = r.onExitCodes;
          if (!m || (m.containerName && m.containerName !== cs.name)) return false;
          return m.operator === 'In' ? m.values.includes(code) : !m.values.includes(code);
        });
        const rule = rules[index];
        if (!rule) continue;
        if (rule.action === 'FailJob')
          return {
            fail: {
              reason: 'PodFailurePolicy',
              message: `Container ${cs.name} for pod ${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''} failed with exit code ${code} matching FailJob rule at index ${index}`,
            },
            ignored,
          };
        if (rule.action === 'Ignore') ignored.add(pod.metadata.uid ?? '');
        break;
      }
    }
    return { ignored };
  }

  private sync(ns: string, name: string): void {
    const { api, types, clock, timings } = this.ctx;
    const job = api.tryGet(types.job, ns, name) as Job | undefined;
    if (!job || job.metadata.deletionTimestamp) return;
    const now = clock.now();
    const ts = api.timestamp();
    const prev = job.status ?? {};
    const conds = prev.conditions ?? [];
    const finished = conds.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    const pods = ownedPods(this.ctx, job.metadata.uid ?? '');
    let active = pods.filter(isActive);
    if (finished) {
      for (const p of active) deletePod(this.ctx, p);
      return;
    }
    const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
    const failedPods = pods.filter((p) => p.status?.phase === 'Failed');
    const restarts = active.reduce(
      (n, p) => n + (p.status?.containerStatuses ?? []).reduce((m, c) => m + c.restartCount, 0),
      0,
    );
    const policy = this.policyFailure(job, failedPods);
    const counted = failedPods.filter((p) => !policy.ignored.has(p.metadata.uid ?? '')).length + restarts;
    const completions = job.spec.completions ?? null;
    const parallelism = job.spec.parallelism ?? 1;
    const startTime = prev.startTime ?? ts;
    let failure: Failure | undefined = policy.fail;
    if (!failure && counted > (job.spec.backoffLimit ?? 6))
      failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    const ads = job.spec.activeDeadlineSeconds;
    if (!failure && ads !== undefined) {
      const deadline = Date.parse(startTime) + ads * 1000;
      if (deadline <= now)
        failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
      else this.resync.at(this.key(ns, name), deadline, () => this.sync(ns, name));
    }
    const done = completions === null ? succeeded > 0 && active.length === 0 : succeeded >= completions;
    let conditions: Condition[] = [...conds];
    let completionTime = prev.completionTime;
    const cond = (type: string, reason: string, message: string): Condition => ({
      type,
      status: 'True',
      reason,
      message,
      lastProbeTime: ts,
      lastTransitionTime: ts,
    });
    if (failure) {
      for (const p of active) deletePod(this.ctx, p);
      active = [];
      if (!getCondition(conditions, 'FailureTarget'))
        conditions.push(cond('FailureTarget', failure.reason, failure.message));
      conditions.push(cond('Failed', failure.reason, failure.message));
    } else if (done) {
      conditions = [
        ...conditions,
        cond('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods'),
        cond('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods'),
      ];
      completionTime = ts;
    } else if (!job.spec.suspend) {
      const want = Math.min(parallelism, completions === null ? parallelism : completions - succeeded);
      if (active.length < want) {
        const failures = counted;
        const lastFailure = Math.max(
          0,
          ...failedPods.map((p) =>
            Math.max(
              0,
              ...(p.status?.containerStatuses ?? []).map((c) => Date.parse(c.state.terminated?.finishedAt ?? '') || 0),
            ),
          ),
        );
        const backoff = failures > 0 ? Math.min(timings.backoffMs * 2 ** (failures - 1), timings.maxBackoffMs) : 0;
        const allowedAt = lastFailure + backoff;
        if (failures > 0 && allowedAt > now) this.resync.at(this.key(ns, name), allowedAt, () => this.sync(ns, name));
        else
          for (let i = active.length; i < want; i++) {
            const pod = createPod(this.ctx, job, job.spec.template);
            if (pod) active.push(pod);
          }
      }
    }
    const status: Job['status'] = {
      ...prev,
      startTime,
      active: active.length,
      ready: active.filter(isReady).length,
      succeeded,
      failed: failedPods.length,
      terminating: 0,
      uncountedTerminatedPods: {},
      ...(completionTime ? { completionTime } : {}),
      ...(conditions.length > 0 ? { conditions } : {}),
    };
    if (!status.active) delete status.active;
    if (!deepEqual(status, job.status)) api.replaceStatus(types.job, job, status);
  }
}
