import { type Container, type KubeObject, type PodSpec, type Service, isRecord } from './kube-object';

export interface DefaultingContext {
  allocateClusterIP(): string;
  allocateNodePort(): number;
}

function defaultContainer(c: Container): void {
  if (c.imagePullPolicy === undefined) {
    const image = c.image ?? '';
    const tagged = /:[^/]+$/.test(image) || image.includes('@');
    c.imagePullPolicy = !tagged || image.endsWith(':latest') ? 'Always' : 'IfNotPresent';
  }
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
}

export function defaultPodSpec(spec: PodSpec | undefined, restartPolicy: 'Always' | undefined = 'Always'): void {
  if (!spec) return;
  if (restartPolicy) spec.restartPolicy ??= restartPolicy;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
}

function spec(obj: KubeObject): Record<string, unknown> {
  if (!isRecord(obj.spec)) obj.spec = {};
  return obj.spec as Record<string, unknown>;
}

function template(s: Record<string, unknown>): { metadata?: Record<string, unknown>; spec?: PodSpec } | undefined {
  return isRecord(s.template) ? s.template : undefined;
}

/** Server-side defaulting for the kinds the controllers read (pkg/apis/{apps,batch,core}/v1/defaults.go). */
export function applyDefaults(obj: KubeObject, previous: KubeObject | undefined, ctx: DefaultingContext): void {
  switch (obj.kind) {
    case 'Deployment': {
      const s = spec(obj);
      s.replicas ??= 1;
      s.revisionHistoryLimit ??= 10;
      s.progressDeadlineSeconds ??= 600;
      const strategy = isRecord(s.strategy) ? s.strategy : {};
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') {
        const ru = isRecord(strategy.rollingUpdate) ? strategy.rollingUpdate : {};
        ru.maxSurge ??= '25%';
        ru.maxUnavailable ??= '25%';
        strategy.rollingUpdate = ru;
      }
      s.strategy = strategy;
      defaultPodSpec(template(s)?.spec);
      break;
    }
    case 'ReplicaSet':
      spec(obj).replicas ??= 1;
      defaultPodSpec(template(spec(obj))?.spec);
      break;
    case 'StatefulSet': {
      const s = spec(obj);
      s.replicas ??= 1;
      s.podManagementPolicy ??= 'OrderedReady';
      s.revisionHistoryLimit ??= 10;
      const us = isRecord(s.updateStrategy) ? s.updateStrategy : {};
      us.type ??= 'RollingUpdate';
      if (us.type === 'RollingUpdate')
        us.rollingUpdate = { partition: 0, ...(isRecord(us.rollingUpdate) ? us.rollingUpdate : {}) };
      s.updateStrategy = us;
      defaultPodSpec(template(s)?.spec);
      break;
    }
    case 'DaemonSet': {
      const s = spec(obj);
      s.revisionHistoryLimit ??= 10;
      const us = isRecord(s.updateStrategy) ? s.updateStrategy : {};
      us.type ??= 'RollingUpdate';
      if (us.type === 'RollingUpdate')
        us.rollingUpdate = { maxUnavailable: 1, maxSurge: 0, ...(isRecord(us.rollingUpdate) ? us.rollingUpdate : {}) };
      s.updateStrategy = us;
      defaultPodSpec(template(s)?.spec);
      break;
    }
    case 'Job': {
      const s = spec(obj);
      if (s.completions === undefined && s.parallelism === undefined) s.completions = 1;
      s.parallelism ??= 1;
      s.backoffLimit ??= 6;
      s.completionMode ??= 'NonIndexed';
      s.suspend ??= false;
      s.manualSelector ??= false;
      const uid = obj.metadata.uid ?? '';
      const t = template(s);
      if (s.manualSelector !== true && t) {
        const labels = (isRecord(t.metadata?.labels) ? t.metadata.labels : {}) as Record<string, string>;
        labels['batch.kubernetes.io/controller-uid'] ??= uid;
        labels['batch.kubernetes.io/job-name'] ??= obj.metadata.name ?? '';
        labels['controller-uid'] ??= uid;
        labels['job-name'] ??= obj.metadata.name ?? '';
        t.metadata = { ...(t.metadata ?? {}), labels };
        s.selector ??= { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
      }
      defaultPodSpec(t?.spec, undefined);
      break;
    }
    case 'CronJob': {
      const s = spec(obj);
      s.concurrencyPolicy ??= 'Allow';
      s.suspend ??= false;
      s.successfulJobsHistoryLimit ??= 3;
      s.failedJobsHistoryLimit ??= 1;
      break;
    }
    case 'Pod':
      defaultPodSpec(obj.spec as PodSpec);
      break;
    case 'Service':
      defaultService(obj as Service, previous as Service | undefined, ctx);
      break;
    case 'Namespace': {
      const s = spec(obj);
      s.finalizers ??= ['kubernetes'];
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
      break;
    }
    default:
      break;
  }
}

function defaultService(svc: Service, previous: Service | undefined, ctx: DefaultingContext): void {
  const s = spec(svc) as Service['spec'];
  s.type ??= 'ClusterIP';
  s.sessionAffinity ??= 'None';
  if (s.type !== 'ExternalName') {
    s.clusterIP ??= previous?.spec.clusterIP ?? ctx.allocateClusterIP();
    s.clusterIPs ??= [s.clusterIP];
    s.ipFamilies ??= ['IPv4'];
    s.ipFamilyPolicy ??= 'SingleStack';
    s.internalTrafficPolicy ??= 'Cluster';
  }
  const needsNodePort = s.type === 'NodePort' || s.type === 'LoadBalancer';
  if (needsNodePort) s.externalTrafficPolicy ??= 'Cluster';
  for (const p of s.ports ?? []) {
    p.protocol ??= 'TCP';
    p.targetPort ??= p.port;
    if (needsNodePort && p.nodePort === undefined)
      p.nodePort = previous?.spec.ports?.find((o) => o.port === p.port)?.nodePort ?? ctx.allocateNodePort();
  }
}

/** Status a freshly created object starts with (POST ignores the status a client sends). */
export function initialStatus(obj: KubeObject): unknown {
  switch (obj.kind) {
    case 'Namespace':
      return { phase: 'Active' };
    case 'Pod':
      return { phase: 'Pending', qosClass: 'BestEffort' };
    case 'PersistentVolumeClaim':
      return { phase: 'Bound', accessModes: (obj.spec as { accessModes?: unknown } | undefined)?.accessModes ?? [] };
    case 'Service':
      return { loadBalancer: {} };
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'Job':
    case 'CronJob':
    case 'HorizontalPodAutoscaler':
      return {};
    default:
      return obj.status;
  }
}
