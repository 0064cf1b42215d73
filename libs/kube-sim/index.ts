/**
 * kube-sim: an in-process Kubernetes API simulator for tests, local mode and benchmarks.
 *
 * Start clusters with {@link startKubeSim}; each serves the real Kubernetes REST API over HTTP on its own port, so
 * kubectl and `@kubernetes/client-node` work unchanged with the kubeconfig it writes. A cluster can instead serve
 * HTTPS and check bearer tokens and client certificates as kube-apiserver does ({@link ClusterOptions.tls},
 * {@link ClusterOptions.authentication}); the kubeconfig it writes is for plain-HTTP clusters. Controllers roll workloads out
 * over (simulated) time; faults can be switched on by pod annotation ({@link SIM_ANNOTATIONS}) or through
 * {@link SimCluster.faults}; a manual clock lets tests advance time instead of sleeping.
 */
export { startKubeSim, KubeSim, type KubeSimOptions } from './kube-sim';
export { SimCluster, type ClusterOptions, type LoggedRequest, type SimTlsOptions } from './sim-cluster';
export { type SimClock, ManualClock, RealClock, type TimerHandle } from './sim-clock';
export { type SimTimings, DEFAULT_TIMINGS } from './controllers/controller-context';
export { SIM_ANNOTATIONS } from './controllers/fake-kubelet';
export {
  FaultRegistry,
  type FaultSpec,
  type FaultMatch,
  type FaultEffect,
  type PodFaultEffect,
  type ApiFaultEffect,
  type ClusterFaultEffect,
  type ActiveFault,
} from './faults';
export { type ClusterApi, type PatchType, type DeleteOptions, type PropagationPolicy } from './cluster-api';
export { type KubeObject, type ObjectMeta } from './kube-object';
export { StatusError } from './status-error';
export { renderKubeconfig } from './kubeconfig';
export { type Verb, type RequestInfo, type ApiAuthentication } from './api-server';
