import { type PodLogSource } from '../api-server';
import { type ContainerProgram, containerProgram, type ProgramOverrides } from '../container-program';
import { type PodFaultEffect } from '../faults';
import {
  type Condition,
  type ContainerStatus,
  type KubeObject,
  type Pod,
  type PodStatus,
  cloneJson,
} from '../kube-object';
import { type StoreEvent } from '../object-store';
import { type TimerHandle } from '../sim-clock';
import { type Controller, type ControllerContext } from './controller-context';

/** Annotations (on a pod or its template) that script what the fake kubelet does with the pod. */
export const SIM_ANNOTATIONS = {
  /** Comma-separated: `image-pull`, `crash-loop`, `never-ready`. */
  fault: 'kube-sim.jibe.dev/fault',
  /** Extra simulated ms before containers start. */
  startDelayMs: 'kube-sim.jibe.dev/start-delay-ms',
  /** Extra simulated ms between running and ready. */
  readyDelayMs: 'kube-sim.jibe.dev/ready-delay-ms',
  /** Exit code of the containers (a Job pod fails with it; a long-running pod crash-loops if non-zero). */
  exitCode: 'kube-sim.jibe.dev/exit-code',
  /** Simulated ms the containers run before exiting. */
  runMs: 'kube-sim.jibe.dev/run-ms',
  /** Lines the containers print, separated by newlines (e.g. `KEY=VALUE` output). */
  logs: 'kube-sim.jibe.dev/logs',
} as const;

type Stage = 'new' | 'scheduling' | 'bound' | 'starting' | 'pulling' | 'running' | 'done' | 'terminating';

interface ContainerRun {
  program: ContainerProgram;
  startedAt: number;
  restarts: number;
  previousLines: string[];
  finished: boolean;
  ready: boolean;
}

interface PodRuntime {
  stage: Stage;
  timers: TimerHandle[];
  effects: PodFaultEffect[];
  overrides: ProgramOverrides;
  extraReadyMs: number;
  containers: Map<string, ContainerRun>;
}

/**
 * Plays the part of the scheduler and of every node's kubelet: binds pods, starts containers after configurable
 * delays, marks them ready, runs Job containers to completion, crash-loops and fails them on faults, and finishes
 * graceful deletion. Each step is a timer on the cluster clock and a status write, so watchers see each state.
 */
export class FakeKubelet implements Controller, PodLogSource {
  private readonly runtimes = new Map<string, PodRuntime>();
  private nextIp = 10;
  private nextNode = 0;

  constructor(private readonly ctx: ControllerContext) {}

  onEvent(e: StoreEvent): void {
    if (e.resource !== this.ctx.types.pod) return;
    const uid = e.object.metadata.uid ?? '';
    if (e.type === 'DELETED') {
      const rt = this.runtimes.get(uid);
      if (rt) for (const t of rt.timers) this.ctx.clock.clearTimer(t);
      this.runtimes.delete(uid);
      return;
    }
    this.ctx.queue.enqueue(`kubelet/${uid}`, () =>
      this.sync(e.object.metadata.namespace ?? '', e.object.metadata.name ?? '', uid),
    );
  }

  private current(ns: string, name: string, uid: string): Pod | undefined {
    const pod = this.ctx.store.get(this.ctx.types.pod, ns, name);
    return pod && pod.metadata.uid === uid ? (pod as Pod) : undefined;
  }

  private timer(rt: PodRuntime, ms: number, fn: () => void): void {
    const handle = this.ctx.clock.setTimer(ms, () => {
      rt.timers = rt.timers.filter((t) => t !== handle);
      fn();
    });
    rt.timers.push(handle);
  }

  private runtimeFor(pod: Pod): PodRuntime {
    const uid = pod.metadata.uid ?? '';
    let rt = this.runtimes.get(uid);
    if (rt) return rt;
    const ann = pod.metadata.annotations ?? {};
    const effects = this.ctx.faults.podEffects(pod);
    for (const f of (ann[SIM_ANNOTATIONS.fault] ?? '').split(',').map((s) => s.trim())) {
      if (f === 'image-pull') effects.push({ type: 'imagePull' });
      else if (f === 'crash-loop') effects.push({ type: 'crashLoop' });
      else if (f === 'never-ready') effects.push({ type: 'neverReady' });
    }
    const startDelay = Number(ann[SIM_ANNOTATIONS.startDelayMs] ?? 0);
    if (startDelay > 0) effects.push({ type: 'slowStart', ms: startDelay });
    const overrides: ProgramOverrides = {};
    if (ann[SIM_ANNOTATIONS.exitCode] !== undefined) overrides.exitCode = Number(ann[SIM_ANNOTATIONS.exitCode]);
    if (ann[SIM_ANNOTATIONS.runMs] !== undefined) overrides.runMs = Number(ann[SIM_ANNOTATIONS.runMs]);
    const logLines = ann[SIM_ANNOTATIONS.logs]?.split('\n') ?? [];
    for (const e of effects) {
      if (e.type === 'exitCode') {
        overrides.exitCode = e.code;
        if (e.afterMs !== undefined) overrides.runMs = e.afterMs;
      } else if (e.type === 'logs') logLines.push(...e.lines);
    }
    if (logLines.length > 0) overrides.logs = logLines;
    rt = {
      stage: 'new',
      timers: [],
      effects,
      overrides,
      extraReadyMs: Number(ann[SIM_ANNOTATIONS.readyDelayMs] ?? 0),
      containers: new Map(),
    };
    this.runtimes.set(uid, rt);
    return rt;
  }

  private sync(ns: string, name: string, uid: string): void {
    const pod = this.current(ns, name, uid);
    if (!pod) return;
    const rt = this.runtimeFor(pod);
    if (pod.metadata.deletionTimestamp) {
      if (rt.stage === 'terminating') return;
      rt.stage = 'terminating';
      for (const t of rt.timers) this.ctx.clock.clearTimer(t);
      rt.timers = [];
      this.timer(rt, this.ctx.timings.terminationMs, () => {
        const p = this.current(ns, name, uid);
        if (p) this.ctx.api.removeNow(this.ctx.types.pod, p);
      });
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      rt.stage = 'done';
      return;
    }
    if (rt.stage === 'new') {
      rt.stage = 'scheduling';
      this.timer(rt, pod.spec.nodeName ? 0 : this.ctx.timings.scheduleMs, () => this.bind(ns, name, uid));
    } else if (rt.stage === 'bound') {
      rt.stage = 'starting';
      const slow = rt.effects.reduce((n, e) => n + (e.type === 'slowStart' ? e.ms : 0), 0);
      this.timer(rt, this.ctx.timings.startMs + slow, () => this.start(ns, name, uid));
    }
  }

  private now(): string {
    return this.ctx.api.timestamp();
  }

  private conditions(pod: Pod, scheduled: boolean, initialized: boolean, ready: boolean, reason?: string): Condition[] {
    const now = this.now();
    const old = pod.status?.conditions ?? [];
    const make = (type: string, ok: boolean, r?: string): Condition => {
      const prev = old.find((c) => c.type === type);
      const status = ok ? 'True' : 'False';
      return {
        type,
        status,
        lastProbeTime: null,
        lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
        ...(r && !ok ? { reason: r } : {}),
      };
    };
    return [
      make('PodReadyToStartContainers', initialized),
      make('Initialized', initialized),
      make('Ready', ready, reason ?? 'ContainersNotReady'),
      make('ContainersReady', ready, reason ?? 'ContainersNotReady'),
      make('PodScheduled', scheduled),
    ];
  }

  private write(pod: Pod, status: PodStatus, spec?: Pod['spec']): void {
    const next = { ...pod, ...(spec ? { spec } : {}), status } as KubeObject;
    if (spec) this.ctx.api.replaceWithStatus(this.ctx.types.pod, next);
    else this.ctx.api.replaceStatus(this.ctx.types.pod, pod, status);
  }

  private pickNode(): string {
    const nodes = this.ctx.nodes;
    const node = nodes[this.nextNode % nodes.length] ?? 'sim-node-1';
    this.nextNode++;
    return node;
  }

  private bind(ns: string, name: string, uid: string): void {
    const pod = this.current(ns, name, uid);
    const rt = this.runtimes.get(uid);
    if (!pod || !rt || pod.metadata.deletionTimestamp) return;
    const spec = cloneJson(pod.spec);
    spec.nodeName ??= this.pickNode();
    const idx = Math.max(0, this.ctx.nodes.indexOf(spec.nodeName));
    rt.stage = 'bound';
    this.write(
      pod,
      {
        ...(pod.status ?? {}),
        phase: 'Pending',
        hostIP: `10.128.0.${idx + 10}`,
        conditions: this.conditions(pod, true, false, false),
        containerStatuses: pod.spec.containers.map((c) => ({
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready: false,
          started: false,
          restartCount: 0,
          state: { waiting: { reason: 'ContainerCreating' } },
          lastState: {},
        })),
      },
      spec.nodeName === pod.spec.nodeName ? undefined : spec,
    );
  }

  private start(ns: string, name: string, uid: string): void {
    const pod = this.current(ns, name, uid);
    const rt = this.runtimes.get(uid);
    if (!pod || !rt || pod.metadata.deletionTimestamp) return;
    if (rt.effects.some((e) => e.type === 'imagePull')) {
      rt.stage = 'pulling';
      const waiting = (reason: string): ContainerStatus[] =>
        pod.spec.containers.map((c) => ({
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready: false,
          started: false,
          restartCount: 0,
          state: {
            waiting: {
              reason,
              message:
                reason === 'ErrImagePull'
                  ? `rpc error: code = NotFound desc = failed to pull and unpack image "${c.image ?? ''}": not found`
                  : `Back-off pulling image "${c.image ?? ''}"`,
            },
          },
          lastState: {},
        }));
      this.write(pod, {
        ...(pod.status ?? {}),
        phase: 'Pending',
        conditions: this.conditions(pod, true, true, false),
        containerStatuses: waiting('ErrImagePull'),
      });
      this.timer(rt, this.ctx.timings.imagePullBackoffMs, () => {
        const p = this.current(ns, name, uid);
        if (p && !p.metadata.deletionTimestamp)
          this.write(p, { ...(p.status ?? {}), containerStatuses: waiting('ImagePullBackOff') });
      });
      return;
    }
    rt.stage = 'running';
    const now = this.ctx.clock.now();
    const restartPolicy = pod.spec.restartPolicy ?? 'Always';
    const crash = rt.effects.find((e): e is Extract<PodFaultEffect, { type: 'crashLoop' }> => e.type === 'crashLoop');
    for (const c of pod.spec.containers) {
      let program = containerProgram(c, restartPolicy, this.ctx.timings.jobRunMs, rt.overrides);
      if (crash) program = { lines: program.lines, exit: { atMs: crash.afterMs ?? 1000, code: crash.exitCode ?? 1 } };
      rt.containers.set(c.name, {
        program,
        startedAt: now,
        restarts: 0,
        previousLines: [],
        finished: false,
        ready: false,
      });
    }
    const ip = this.nextIp++;
    this.write(pod, {
      ...(pod.status ?? {}),
      phase: 'Running',
      podIP: `10.244.${Math.floor(ip / 250) % 256}.${(ip % 250) + 1}`,
      podIPs: [{ ip: `10.244.${Math.floor(ip / 250) % 256}.${(ip % 250) + 1}` }],
      startTime: pod.status?.startTime ?? this.now(),
      conditions: this.conditions(pod, true, true, false),
      containerStatuses: pod.spec.containers.map((c) => this.runningStatus(c.name, c.image ?? '', 0, {})),
    });
    for (const c of pod.spec.containers) this.scheduleContainer(ns, name, uid, c.name);
  }

  private runningStatus(
    name: string,
    image: string,
    restarts: number,
    lastState: ContainerStatus['lastState'],
  ): ContainerStatus {
    return {
      name,
      image,
      imageID: `${image}@sha256:${'0'.repeat(64)}`,
      containerID: `containerd://${Math.random().toString(16).slice(2).padEnd(16, '0')}`,
      ready: false,
      started: true,
      restartCount: restarts,
      state: { running: { startedAt: this.now() } },
      lastState,
    };
  }

  private scheduleContainer(ns: string, name: string, uid: string, container: string): void {
    const pod = this.current(ns, name, uid);
    const rt = this.runtimes.get(uid);
    const run = rt?.containers.get(container);
    if (!pod || !rt || !run) return;
    const spec = pod.spec.containers.find((c) => c.name === container);
    if (run.program.exit) {
      const exit = run.program.exit;
      this.timer(rt, exit.atMs, () => this.containerExited(ns, name, uid, container, exit.code));
    }
    if (rt.effects.some((e) => e.type === 'neverReady')) return;
    const probeDelay = this.ctx.timings.honorProbeDelays ? (spec?.readinessProbe?.initialDelaySeconds ?? 0) * 1000 : 0;
    const readyIn = this.ctx.timings.readyMs + probeDelay + rt.extraReadyMs;
    if (run.program.exit && run.program.exit.atMs <= readyIn && pod.spec.restartPolicy !== 'Always') return;
    this.timer(rt, readyIn, () => this.containerReady(ns, name, uid, container));
  }

  private containerReady(ns: string, name: string, uid: string, container: string): void {
    const pod = this.current(ns, name, uid);
    const run = this.runtimes.get(uid)?.containers.get(container);
    if (!pod || !run || run.finished || pod.metadata.deletionTimestamp) return;
    run.ready = true;
    const statuses = (pod.status?.containerStatuses ?? []).map((s) =>
      s.name === container && s.state.running ? { ...s, ready: true } : s,
    );
    const allReady = statuses.length > 0 && statuses.every((s) => s.ready);
    this.write(pod, {
      ...(pod.status ?? {}),
      containerStatuses: statuses,
      conditions: this.conditions(pod, true, true, allReady),
    });
  }

  private containerExited(ns: string, name: string, uid: string, container: string, code: number): void {
    const pod = this.current(ns, name, uid);
    const rt = this.runtimes.get(uid);
    const run = rt?.containers.get(container);
    if (!pod || !rt || !run || pod.metadata.deletionTimestamp) return;
    const policy = pod.spec.restartPolicy ?? 'Always';
    const startedAt = new Date(run.startedAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const terminated = {
      exitCode: code,
      reason: code === 0 ? 'Completed' : 'Error',
      startedAt,
      finishedAt: this.now(),
    };
    const restart = policy === 'Always' || (policy === 'OnFailure' && code !== 0);
    run.ready = false;
    let statuses = pod.status?.containerStatuses ?? [];
    if (!restart) {
      run.finished = true;
      statuses = statuses.map((s) =>
        s.name === container ? { ...s, ready: false, started: false, state: { terminated } } : s,
      );
      const allDone = [...rt.containers.values()].every((r) => r.finished);
      if (allDone) {
        rt.stage = 'done';
        const failed = statuses.some((s) => (s.state.terminated?.exitCode ?? 0) !== 0);
        this.write(pod, {
          ...(pod.status ?? {}),
          phase: failed ? 'Failed' : 'Succeeded',
          containerStatuses: statuses,
          conditions: this.conditions(pod, true, true, false, 'PodCompleted'),
        });
        return;
      }
      this.write(pod, {
        ...(pod.status ?? {}),
        containerStatuses: statuses,
        conditions: this.conditions(pod, true, true, false),
      });
      return;
    }
    run.restarts++;
    run.previousLines = this.visibleLines(run, this.ctx.clock.now());
    const backoff = Math.min(this.ctx.timings.backoffMs * 2 ** (run.restarts - 1), this.ctx.timings.maxBackoffMs);
    statuses = statuses.map((s) =>
      s.name === container
        ? {
            ...s,
            ready: false,
            started: false,
            restartCount: run.restarts,
            lastState: { terminated },
            state: {
              waiting: {
                reason: 'CrashLoopBackOff',
                message: `back-off ${Math.round(backoff / 1000)}s restarting failed container=${container} pod=${name}_${ns}(${uid})`,
              },
            },
          }
        : s,
    );
    this.write(pod, {
      ...(pod.status ?? {}),
      containerStatuses: statuses,
      conditions: this.conditions(pod, true, true, false),
    });
    this.timer(rt, backoff, () => {
      const p = this.current(ns, name, uid);
      if (!p || p.metadata.deletionTimestamp) return;
      run.startedAt = this.ctx.clock.now();
      const image = p.spec.containers.find((c) => c.name === container)?.image ?? '';
      const next = (p.status?.containerStatuses ?? []).map((s) =>
        s.name === container ? this.runningStatus(container, image, run.restarts, s.lastState) : s,
      );
      this.write(p, { ...(p.status ?? {}), containerStatuses: next });
      this.scheduleContainer(ns, name, uid, container);
    });
  }

  private visibleLines(run: ContainerRun, now: number): string[] {
    const elapsed = run.finished ? Number.POSITIVE_INFINITY : now - run.startedAt;
    return run.program.lines.filter((l) => l.atMs <= elapsed).map((l) => l.text);
  }

  read(pod: KubeObject, container: string | undefined, previous: boolean): { lines: string[]; finished: boolean } {
    const rt = this.runtimes.get(pod.metadata.uid ?? '');
    const name = container ?? (pod as Pod).spec.containers[0]?.name ?? '';
    const run = rt?.containers.get(name);
    if (!run) return { lines: [], finished: true };
    if (previous) return { lines: run.previousLines, finished: true };
    return { lines: this.visibleLines(run, this.ctx.clock.now()), finished: run.finished };
  }
}
