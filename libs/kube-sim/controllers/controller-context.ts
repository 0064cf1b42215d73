import { type ClusterApi } from '../cluster-api';
import { type FaultRegistry } from '../faults';
import { type ObjectStore, type StoreEvent } from '../object-store';
import { type ResourceRegistry, type ResourceType } from '../resource-registry';
import { type SimClock } from '../sim-clock';
import { type WorkQueue } from '../work-queue';

/**
 * Delays of the fake kubelet and controllers, in simulated milliseconds. Zero means "on the next tick", which
 * still goes through every intermediate state (Pending, Running, Ready) so watchers see a real progression.
 */
export interface SimTimings {
  /** Pod creation to binding on a node. */
  scheduleMs: number;
  /** Binding to containers running (image pull and container start). */
  startMs: number;
  /** Running to Ready, added to the readiness probe's initialDelaySeconds when {@link honorProbeDelays} is on. */
  readyMs: number;
  /** Whether readinessProbe.initialDelaySeconds delays readiness (as on a real cluster). */
  honorProbeDelays: boolean;
  /** How long a Job container with no explicit sleep runs before it exits. */
  jobRunMs: number;
  /** Graceful deletion of a running pod to its removal. */
  terminationMs: number;
  /** First crash-loop / Job pod-failure back-off; doubles each time up to {@link maxBackoffMs}. */
  backoffMs: number;
  maxBackoffMs: number;
  /** ErrImagePull to ImagePullBackOff. */
  imagePullBackoffMs: number;
}

export const DEFAULT_TIMINGS: SimTimings = {
  scheduleMs: 0,
  startMs: 0,
  readyMs: 0,
  honorProbeDelays: true,
  jobRunMs: 0,
  terminationMs: 0,
  backoffMs: 10_000,
  maxBackoffMs: 300_000,
  imagePullBackoffMs: 5_000,
};

export interface ControllerContext {
  api: ClusterApi;
  store: ObjectStore;
  registry: ResourceRegistry;
  clock: SimClock;
  queue: WorkQueue;
  faults: FaultRegistry;
  timings: SimTimings;
  nodes: string[];
  types: {
    namespace: ResourceType;
    node: ResourceType;
    pod: ResourceType;
    service: ResourceType;
    endpoints: ResourceType;
    endpointSlice: ResourceType;
    pvc: ResourceType;
    deployment: ResourceType;
    replicaSet: ResourceType;
    statefulSet: ResourceType;
    daemonSet: ResourceType;
    controllerRevision: ResourceType;
    job: ResourceType;
    cronJob: ResourceType;
  };
}

/** A controller reacts to store events by enqueuing reconcile work; it never polls. */
export interface Controller {
  onEvent(e: StoreEvent): void;
}
