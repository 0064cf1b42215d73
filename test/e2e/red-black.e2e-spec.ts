import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPipeline,
  describeExecution,
  replicasOf,
  type SimApi,
  stageNamed,
  startExecution,
  startSimApi,
  waitForExecution,
} from '../support/sim-api';
import { TrafficMonitor } from '../support/traffic-monitor';

// Red/black proven against the simulator over HTTP (api + engine + client-node): while a cutover runs, what the
// Service sends traffic to is sampled continuously, and a version that never becomes ready never gets any.
const CLUSTER = 'sim-staging';
let env: SimApi;

function web(deployment: Record<string, unknown> = {}) {
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        ...deployment,
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              {
                name: 'web',
                image: '${ parameters.image }',
                ports: [{ containerPort: 80 }],
                readinessProbe: { httpGet: { path: '/', port: 80 } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80 }] },
    },
  ];
}

/** A one-stage red/black deploy of `web` into `namespace` (a namespace of its own per test). */
async function deployPipeline(
  name: string,
  namespace: string,
  options: { scaleDown?: boolean; deployment?: Record<string, unknown>; stage?: Record<string, unknown> } = {},
): Promise<string> {
  return createPipeline(env.http, {
    application: 'redblack',
    name,
    limitConcurrent: false,
    parameterConfig: [{ name: 'image', required: true }],
    stages: [
      { refId: 'ns', type: 'createNamespace', name: 'Namespace', account: CLUSTER, namespace },
      {
        refId: 'deploy',
        type: 'deployManifest',
        name: 'Deploy',
        requisiteStageRefIds: ['ns'],
        account: CLUSTER,
        namespace,
        manifests: web(options.deployment),
        trafficManagement: {
          enabled: true,
          options: {
            strategy: 'redblack',
            services: ['service web'],
            delayBeforeScaleDownSeconds: 0,
            scaleDown: options.scaleDown ?? true,
            maxVersionsToKeep: 5,
          },
        },
        ...options.stage,
      },
    ],
  });
}

async function run(pipelineId: string, image: string): Promise<any> {
  const id = await startExecution(env.http, pipelineId, { parameters: { image } });
  return waitForExecution(env.http, id, undefined, 20_000);
}

/** Polls `condition` until it holds, failing after a generous `timeoutMs` with `what`. */
async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function podsOf(namespace: string, version: string): number {
  return (env.sim.cluster(CLUSTER).listObjects('v1', 'Pod', namespace) as any[]).filter(
    (p) => p.metadata.labels?.['jibe.dev/version'] === version,
  ).length;
}

function selectedVersion(namespace: string): string | undefined {
  const service = env.sim.cluster(CLUSTER).getObject('v1', 'Service', namespace, 'web') as any;
  return service?.spec?.selector?.['jibe.dev/version'];
}

beforeAll(async () => {
  // Pods take 150 ms to become ready, so a switch made before the new version is ready would show in the samples.
  env = await startSimApi({ clusters: [{ name: CLUSTER, timings: { readyMs: 150 } }, 'sim-production'] });
});
afterAll(async () => {
  await env?.close();
});

describe('red/black against the simulator', () => {
  it('moves traffic in one step: endpoints never mix versions, never hold an unready pod, never drop to zero', async () => {
    const pipeline = await deployPipeline('Cutover', 'rb-cutover');
    const first = await run(pipeline, 'nginx:1.0');
    expect(first.status, describeExecution(first)).toBe('SUCCEEDED');
    expect(selectedVersion('rb-cutover')).toBe('v000');

    const monitor = await new TrafficMonitor(env.sim, CLUSTER, 'rb-cutover', 'web').start();
    const second = await run(pipeline, 'nginx:1.1');
    // Old pods terminate after the switch: keep sampling until the scale-down has fully happened (a fixed sleep
    // could end first on a loaded machine, silently sampling less), then for a few samples more.
    await until('the old version’s pods are gone', () => podsOf('rb-cutover', 'v000') === 0);
    const sampled = monitor.samples;
    await until('20 more samples', () => monitor.samples >= sampled + 20);
    monitor.stop();

    expect(second.status, describeExecution(second)).toBe('SUCCEEDED');
    expect(monitor.violations).toEqual([]);
    expect(monitor.versions).toEqual(['v000', 'v001']);
    expect(monitor.samples).toBeGreaterThan(50);
    expect(monitor.watchEvents).toBeGreaterThan(1);
    expect(selectedVersion('rb-cutover')).toBe('v001');
    expect(replicasOf(env.sim, CLUSTER, 'rb-cutover', 'web-v000')).toBe(0);
    expect(stageNamed(second, 'Deploy').outputs).toMatchObject({
      scaledDownServerGroups: ['deployment web-v000 in rb-cutover'],
      previousServerGroups: [{ service: 'web', version: 'v000', serverGroup: 'web-v000' }],
    });
  });

  it('gives a version that cannot pull its image no traffic and fails with ProgressDeadlineExceeded', async () => {
    const pipeline = await deployPipeline('Bad image', 'rb-image', { deployment: { progressDeadlineSeconds: 2 } });
    expect((await run(pipeline, 'nginx:1.0')).status).toBe('SUCCEEDED');

    await env.sim.cluster(CLUSTER).faults.add({ match: { image: 'nginx:missing' }, effect: { type: 'imagePull' } });
    const monitor = await new TrafficMonitor(env.sim, CLUSTER, 'rb-image', 'web').start();
    const failed = await run(pipeline, 'nginx:missing');
    monitor.stop();

    expect(failed.status, describeExecution(failed)).toBe('TERMINAL');
    const error = stageNamed(failed, 'Deploy').error;
    expect(error.message).toMatch(/deployment web-v001 in rb-image failed: .*ProgressDeadlineExceeded/);
    expect(error.message).toMatch(/pods: (ErrImagePull|ImagePullBackOff)/);
    expect(monitor.violations).toEqual([]);
    expect(monitor.versions).toEqual(['v000']);
    expect(selectedVersion('rb-image')).toBe('v000');
    expect(replicasOf(env.sim, CLUSTER, 'rb-image', 'web-v000')).toBe(3);
    const pods = env.sim.cluster(CLUSTER).listObjects('v1', 'Pod', 'rb-image') as any[];
    const waiting = pods
      .filter((p) => p.metadata.labels['jibe.dev/version'] === 'v001')
      .map((p) => p.status.containerStatuses?.[0]?.state?.waiting?.reason);
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting.every((r) => r === 'ErrImagePull' || r === 'ImagePullBackOff')).toBe(true);
  });

  it('gives a version that never becomes ready no traffic and fails at the stage timeout saying what it waited for', async () => {
    const pipeline = await deployPipeline('Never ready', 'rb-ready', { stage: { stableManifestTimeoutMinutes: 0.04 } });
    expect((await run(pipeline, 'nginx:1.0')).status).toBe('SUCCEEDED');

    await env.sim.cluster(CLUSTER).faults.add({ match: { image: 'nginx:unready' }, effect: { type: 'neverReady' } });
    const monitor = await new TrafficMonitor(env.sim, CLUSTER, 'rb-ready', 'web').start();
    const failed = await run(pipeline, 'nginx:unready');
    monitor.stop();

    expect(failed.status, describeExecution(failed)).toBe('TERMINAL');
    expect(stageNamed(failed, 'Deploy').error.message).toMatch(
      /timed out after 2 s waiting for deployment web-v001 in rb-ready \(progressing: .*0 of 3 updated replicas available\)/,
    );
    expect(monitor.violations).toEqual([]);
    expect(monitor.versions).toEqual(['v000']);
    expect(selectedVersion('rb-ready')).toBe('v000');
  });

  it('rolls back to the previous version with exactly one Service update', async () => {
    const pipeline = await deployPipeline('Keep previous', 'rb-rollback', { scaleDown: false });
    expect((await run(pipeline, 'nginx:1.0')).status).toBe('SUCCEEDED');
    const deployed = await run(pipeline, 'nginx:1.1');
    expect(deployed.status).toBe('SUCCEEDED');
    const [previous] = stageNamed(deployed, 'Deploy').outputs.previousServerGroups;
    expect(previous).toMatchObject({ service: 'web', serverGroup: 'web-v000' });

    const rollback = await createPipeline(env.http, {
      application: 'redblack',
      name: 'Rollback',
      limitConcurrent: false,
      parameterConfig: [{ name: 'serverGroup', required: true }],
      stages: [
        {
          refId: '1',
          type: 'enableManifest',
          name: 'Enable previous',
          account: CLUSTER,
          location: 'rb-rollback',
          manifestName: 'deployment ${ parameters.serverGroup }',
        },
      ],
    });
    const cluster = env.sim.cluster(CLUSTER);
    const monitor = await new TrafficMonitor(env.sim, CLUSTER, 'rb-rollback', 'web').start();
    cluster.clearRequests();
    const id = await startExecution(env.http, rollback, { parameters: { serverGroup: previous.serverGroup } });
    const done = await waitForExecution(env.http, id);
    // Keep sampling until the Endpoints follow the switch, and a few samples after it.
    await until('v000 serving', () => monitor.versions.includes('v000'));
    const sampled = monitor.samples;
    await until('20 more samples', () => monitor.samples >= sampled + 20);
    monitor.stop();

    expect(done.status, describeExecution(done)).toBe('SUCCEEDED');
    const serviceWrites = cluster
      .requests()
      .filter((r) => /\/namespaces\/rb-rollback\/services\/web$/.test(r.path))
      .filter((r) => !['get', 'list', 'watch'].includes(r.verb));
    expect(serviceWrites.map((r) => `${r.verb} ${r.path}`)).toEqual([
      'patch /api/v1/namespaces/rb-rollback/services/web',
    ]);
    expect(selectedVersion('rb-rollback')).toBe('v000');
    expect(monitor.violations).toEqual([]);
    expect(monitor.versions).toEqual(['v001', 'v000']);
    expect(stageNamed(done, 'Enable previous').outputs.previousVersions).toEqual({ web: 'v001' });
  });
});
