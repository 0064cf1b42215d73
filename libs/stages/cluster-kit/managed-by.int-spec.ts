import { type StageDefinition } from '@jibe/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { stageRegistry } from '../index';
import { ClusterError, type KubeObject } from './cluster.port';
import { runStage, type StageRun } from './testing/stage-harness';

/**
 * Jibe's managed-by rule, for every stage type: a stage that changes an existing object is refused (NOT_MANAGED,
 * the object unchanged) when Jibe did not create it, allowed when its config says `allowUnmanaged: true`, and fine
 * when Jibe created it. Every registered stage type is classified below, so a new one cannot slip past the rule.
 */

const MANAGED_BY = 'app.kubernetes.io/managed-by';

/** Who put an object in the cluster: Jibe (through its adapter, so it carries the label) or someone else. */
type Owner = 'jibe' | 'someone else';

interface WriteCase {
  /** The object the stage changes, as the refusal names it (`Deployment ns/api`). */
  object: (ns: string) => string;
  /** Puts in the namespace what the stage works on; `owner` owns the object the stage changes. */
  setup: (ns: string, owner: Owner) => Promise<void>;
  run: (ns: string, extra: { allowUnmanaged?: true }) => Promise<StageRun>;
  /** What a user sees of the object (`kubectl get`); `before` when untouched, `after` once the stage changed it. */
  observe: (ns: string) => Promise<string>;
  before: string;
  after: string;
  /**
   * Without the opt-in: `refused` fails the stage with NOT_MANAGED; `not selected` is a label selector that picks
   * only Jibe's objects (an environment scale-in should not fail over one workload someone else runs there);
   * `named traffic Service` is a Service the stage names as its traffic target, whose selector Jibe switches
   * whoever made it (traffic.ts NAMED_SERVICE_WRITE: Spinnaker's own pipelines route through Services made with
   * kubectl) while leaving the rest of it, its labels included, as they were.
   */
  foreign: 'refused' | 'not selected' | 'named traffic Service';
  /** For `not selected`: what shows that the stage carried on without the object (not failed over it). */
  carriedOn?: { observe: (ns: string) => Promise<string>; expected: string };
}

/** Stage types that never change an object that exists: why each is safe without a case. */
const NO_EXISTING_OBJECT_WRITES: Record<string, string> = {
  wait: 'no cluster',
  manualJudgment: 'no cluster',
  checkPreconditions: 'no cluster',
  pipeline: 'starts a pipeline, no cluster',
  bakeManifest: 'renders templates, no cluster',
  createNamespace: 'applies (adopts) a Namespace; one someone else made is left alone (its own spec)',
  runJobManifest: 'creates its own Job with a run label; never writes one it did not create',
};

describe('the managed-by rule, for every stage that changes an object (simulator, real adapter over HTTP)', () => {
  let env: StageSimulator;
  let namespaces = 0;

  beforeAll(async () => {
    env = await startStageSimulator();
  });
  afterAll(async () => {
    await env?.close();
  });

  async function freshNamespace(prefix: string): Promise<string> {
    const ns = `${prefix.toLowerCase()}-${++namespaces}`;
    await env.user.createNamespace(ns);
    return ns;
  }

  /** Puts objects in the cluster as `owner` would: Jibe through its adapter, anyone else with kubectl. */
  async function put(owner: Owner, objects: KubeObject[]): Promise<void> {
    if (owner === 'jibe') await env.adapter.apply(env.account, objects);
    else for (const object of objects) await env.user.apply(object);
    await env.adapter.advance(5_000);
  }

  const stage = (type: string): StageDefinition => {
    const definition = stageRegistry.get(type);
    if (!definition) throw new Error(`no stage type ${type}`);
    return definition;
  };
  const run = (type: string, config: Record<string, unknown>) =>
    runStage(stage(type), { account: env.account, ...config }, { clusterPort: env.adapter });

  const deployment = (ns: string, name: string, image: string, replicas = 2): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: 'shop' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
    },
  });
  /** A server group (version v000 of cluster web) Jibe deployed, and its pods running. */
  const serverGroup = (ns: string): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-v000', namespace: ns, labels: { 'jibe.dev/cluster': 'web', 'jibe.dev/version': 'v000' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web', 'jibe.dev/version': 'v000' } },
      template: {
        metadata: { labels: { app: 'web', 'jibe.dev/cluster': 'web', 'jibe.dev/version': 'v000' } },
        spec: { containers: [{ name: 'app', image: 'web:1' }] },
      },
    },
  });
  const service = (ns: string, version: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: ns },
    spec: { selector: { app: 'web', 'jibe.dev/cluster': 'web', 'jibe.dev/version': version }, ports: [{ port: 80 }] },
  });

  const deploymentState = async (ns: string, name = 'api'): Promise<string> => {
    const d = await env.user.get('apps/v1', 'Deployment', ns, name);
    if (!d) return 'gone';
    const spec = d.spec as { replicas: number; template: { spec: { containers: { image: string }[] } } };
    return `replicas ${spec.replicas}, image ${spec.template.spec.containers[0]!.image}`;
  };
  const serviceVersion = async (ns: string): Promise<string> => {
    const s = await env.user.get('v1', 'Service', ns, 'web');
    return `selects ${(s!.spec!['selector'] as Record<string, string>)['jibe.dev/version'] ?? 'any version'}`;
  };

  const writeCases: Record<string, WriteCase> = {
    scaleManifest: {
      object: (ns) => `Deployment ${ns}/api`,
      setup: (ns, owner) => put(owner, [deployment(ns, 'api', 'api:1')]),
      run: (ns, extra) => run('scaleManifest', { location: ns, manifestName: 'deployment api', replicas: 0, ...extra }),
      observe: (ns) => deploymentState(ns),
      before: 'replicas 2, image api:1',
      after: 'replicas 0, image api:1',
      foreign: 'refused',
    },
    deleteManifest: {
      object: (ns) => `Deployment ${ns}/api`,
      setup: (ns, owner) => put(owner, [deployment(ns, 'api', 'api:1')]),
      run: (ns, extra) => run('deleteManifest', { location: ns, manifestName: 'deployment api', ...extra }),
      observe: (ns) => deploymentState(ns),
      before: 'replicas 2, image api:1',
      after: 'gone',
      foreign: 'refused',
    },
    undoRolloutManifest: {
      object: (ns) => `Deployment ${ns}/api`,
      setup: async (ns, owner) => {
        await put(owner, [deployment(ns, 'api', 'api:1')]);
        await put(owner, [deployment(ns, 'api', 'api:2')]);
      },
      run: (ns, extra) =>
        run('undoRolloutManifest', { location: ns, manifestName: 'deployment api', numRevisionsBack: 1, ...extra }),
      observe: (ns) => deploymentState(ns),
      before: 'replicas 2, image api:2',
      after: 'replicas 2, image api:1',
      foreign: 'refused',
    },
    rollingRestartManifest: {
      object: (ns) => `Deployment ${ns}/api`,
      setup: (ns, owner) => put(owner, [deployment(ns, 'api', 'api:1')]),
      run: (ns, extra) => run('rollingRestartManifest', { location: ns, manifestName: 'deployment api', ...extra }),
      observe: async (ns) => {
        const d = await env.user.get('apps/v1', 'Deployment', ns, 'api');
        const template = d!.spec!['template'] as { metadata?: { annotations?: Record<string, string> } };
        return template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'] ? 'restarted' : 'not restarted';
      },
      before: 'not restarted',
      after: 'restarted',
      foreign: 'refused',
    },
    enableManifest: {
      object: (ns) => `Service ${ns}/web`,
      setup: async (ns, owner) => {
        await put('jibe', [serverGroup(ns)]);
        await put(owner, [service(ns, 'none')]);
      },
      run: (ns, extra) =>
        run('enableManifest', {
          namespace: ns,
          manifestName: 'replicaSet web-v000',
          services: ['service web'],
          ...extra,
        }),
      observe: serviceVersion,
      before: 'selects none',
      after: 'selects v000',
      foreign: 'named traffic Service',
    },
    disableManifest: {
      object: (ns) => `Service ${ns}/web`,
      setup: async (ns, owner) => {
        await put('jibe', [serverGroup(ns)]);
        await put(owner, [service(ns, 'v000')]);
      },
      run: (ns, extra) =>
        run('disableManifest', {
          namespace: ns,
          manifestName: 'replicaSet web-v000',
          services: ['service web'],
          ...extra,
        }),
      observe: serviceVersion,
      before: 'selects v000',
      after: 'selects none',
      foreign: 'named traffic Service',
    },
    // Red/black to a Service the manifests do not hold: the deploy applies (adopts) what it deploys, but the
    // traffic switch patches a Service it found there. A Service in the manifests is applied first, so it is Jibe's.
    deployManifest: {
      object: (ns) => `Service ${ns}/web`,
      setup: (ns, owner) => put(owner, [service(ns, 'none')]),
      run: (ns, extra) =>
        run('deployManifest', {
          namespace: ns,
          manifests: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              metadata: { name: 'web' },
              spec: {
                replicas: 1,
                selector: { matchLabels: { app: 'web' } },
                template: {
                  metadata: { labels: { app: 'web' } },
                  spec: { containers: [{ name: 'a', image: 'web:1' }] },
                },
              },
            },
          ],
          trafficManagement: { enabled: true, options: { strategy: 'redblack', services: ['service web'] } },
          ...extra,
        }),
      observe: serviceVersion,
      before: 'selects none',
      after: 'selects v000',
      foreign: 'named traffic Service',
    },
    // The refresh's scale-in picks the app by label selector, and only Jibe's workloads unless allowed: someone
    // else's keeps running (the refresh is not failed over it). Observed while the refresh Job runs.
    dbRefresh: {
      object: (ns) => `Deployment ${ns}/api`,
      setup: async (ns, owner) => {
        for (const name of ['prod-db', 'staging-db'])
          await env.user.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type: 'Opaque' });
        await put(owner, [deployment(ns, 'api', 'api:1')]);
      },
      run: (ns, extra) =>
        runStage(
          stage('dbRefresh'),
          {
            account: env.account,
            location: ns,
            source: { type: 'snapshot', snapshot: 'prod-2026-11-01', secretName: 'prod-db' },
            target: { database: 'shop_staging', secretName: 'staging-db' },
            jobTemplate: {
              apiVersion: 'batch/v1',
              kind: 'Job',
              metadata: { name: 'refresh' },
              spec: {
                backoffLimit: 0,
                template: {
                  spec: {
                    containers: [{ name: 'pg', image: 'postgres:16', command: ['sh', '-c', 'echo ROWS=1'] }],
                    restartPolicy: 'Never',
                  },
                },
              },
            },
            scaleDown: { labelSelector: 'app=shop' },
            ...extra,
          },
          { clusterPort: env.adapter, stopBefore: 'monitorRefreshJob' },
        ),
      observe: (ns) => deploymentState(ns),
      before: 'replicas 2, image api:1',
      after: 'replicas 0, image api:1',
      foreign: 'not selected',
      carriedOn: {
        observe: async (ns) => `refresh Jobs: ${(await env.user.list('batch/v1', 'Job', ns)).length}`,
        expected: 'refresh Jobs: 1',
      },
    },
  };

  // Fails when a stage type is registered that is in neither list: checked by deleting runJobManifest's entry once
  // (its type was then unclassified).
  it('classifies every registered stage type', () => {
    const classified = [...Object.keys(NO_EXISTING_OBJECT_WRITES), ...Object.keys(writeCases)].sort();
    expect(stageRegistry.types().slice().sort()).toEqual(classified);
  });

  // Fails if the adapter's check is removed (the calls go through): checked by making managedVersion always return
  // undefined once (this test, the race, the mixed delete and every refused case below then failed).
  it('refuses a direct port call on an object Jibe does not manage, and writes nothing', async () => {
    const ns = await freshNamespace('port');
    await put('someone else', [deployment(ns, 'api', 'api:1')]);
    const ref = { kind: 'Deployment', name: 'api', namespace: ns };
    const writes = env.mark();
    for (const call of [
      () => env.adapter.patch(env.account, ref, { spec: { replicas: 0 } }, 'merge'),
      () => env.adapter.patch(env.account, ref, { spec: { replicas: 0 } }, 'strategic'),
      () => env.adapter.patch(env.account, ref, [{ op: 'replace', path: '/spec/replicas', value: 0 }], 'json'),
      () => env.adapter.delete(env.account, ref),
      () => env.adapter.delete(env.account, ref, { dryRun: true }),
    ]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ClusterError);
      expect(error).toMatchObject({ code: 'NOT_MANAGED' });
      expect((error as Error).message).toContain(`Deployment ${ns}/api: it is not managed by Jibe`);
    }
    expect(writes.writes()).toEqual([]);
    expect(await deploymentState(ns)).toBe('replicas 2, image api:1');
    // With the opt-in the same call goes through.
    await env.adapter.patch(env.account, ref, { spec: { replicas: 1 } }, 'merge', { allowUnmanaged: true });
    expect(await deploymentState(ns)).toBe('replicas 1, image api:1');
  });

  // Fails if a write does not carry what was checked (it lands on an object that is no longer Jibe's): checked by
  // sending the patch without onlyIfUnchanged once, and the delete without its resourceVersion precondition once.
  it('checks the label on the object the write applies to, not on an earlier read', async () => {
    const ns = await freshNamespace('race');
    await put('jibe', [deployment(ns, 'api', 'api:1')]);
    const ref = { kind: 'Deployment', name: 'api', namespace: ns };
    // Someone takes the Deployment over (relabels it) just after the adapter has read it and found Jibe's label:
    // the adapter's own read is wrapped, the one instance of the real adapter otherwise unchanged.
    const label = (value: string) =>
      env.user.patch('apps/v1', 'Deployment', ns, 'api', {
        metadata: { name: 'api', namespace: ns, labels: { [MANAGED_BY]: value } },
      });
    const racing: typeof env.adapter = Object.create(env.adapter) as typeof env.adapter;
    racing.get = async (account, target) => {
      const read = await env.adapter.get(account, target);
      await label('helm');
      return read;
    };
    const outcome = async (write: () => Promise<unknown>): Promise<string> => {
      await label('jibe');
      return write().then(
        () => 'written',
        (e: unknown) => `${(e as Error).name}${e instanceof ClusterError ? ` ${e.code}` : ` ${(e as Error).message}`}`,
      );
    };
    // A merge patch and a delete carry the resourceVersion read: 409, which the engine retries (and the retry's
    // read then refuses); a JSON Patch tests the label itself and is refused outright.
    expect(await outcome(() => racing.patch(env.account, ref, { spec: { replicas: 0 } }, 'merge'))).toMatch(
      /^TransientError .*the object has been modified/,
    );
    expect(await outcome(() => racing.delete(env.account, ref))).toMatch(
      /^TransientError .*the object has been modified/,
    );
    const jsonPatch = [{ op: 'replace', path: '/spec/replicas', value: 0 }];
    expect(await outcome(() => racing.patch(env.account, ref, jsonPatch, 'json'))).toBe(
      'ClusterError KUBERNETES_ERROR',
    );
    expect(await deploymentState(ns)).toBe('replicas 2, image api:1');
    // The retry, reading the object as it now is, is refused.
    await expect(env.adapter.patch(env.account, ref, { spec: { replicas: 0 } }, 'merge')).rejects.toMatchObject({
      code: 'NOT_MANAGED',
    });
  });

  // Fails if the adapter lets a manifest's own managed-by value win over Jibe's (the Deployment stays Helm's and the
  // scale is refused): checked by putting the manifest's labels after Jibe's in prepare once.
  it('adopts what it applies: an object someone else made, and a manifest labelled managed-by: Helm', async () => {
    const ns = await freshNamespace('adopt');
    await put('someone else', [deployment(ns, 'api', 'api:1')]);
    const helm = deployment(ns, 'chart', 'chart:1');
    helm.metadata.labels = { ...helm.metadata.labels, [MANAGED_BY]: 'Helm' };
    await put('jibe', [deployment(ns, 'api', 'api:1'), helm]);
    for (const name of ['api', 'chart']) {
      const live = await env.user.get('apps/v1', 'Deployment', ns, name);
      expect(live!.metadata.labels?.[MANAGED_BY], name).toBe('jibe');
      const scaled = await run('scaleManifest', { location: ns, manifestName: `deployment ${name}`, replicas: 1 });
      expect(scaled.error, JSON.stringify(scaled.error)).toBeUndefined();
    }
    expect(await deploymentState(ns, 'api')).toBe('replicas 1, image api:1');
    expect(await deploymentState(ns, 'chart')).toBe('replicas 1, image chart:1');
  });

  // Fails if deleteManifest's dry-run pass is dropped (a is deleted before b-theirs is refused): checked by removing
  // it once.
  it('deleteManifest by selector deletes nothing when one object it selects is not Jibe’s', async () => {
    const ns = await freshNamespace('delete-mixed');
    const configMap = (name: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns, labels: { env: 'pr-1' } },
    });
    await put('jibe', [configMap('a')]);
    await put('someone else', [configMap('b-theirs')]);
    const result = await run('deleteManifest', { location: ns, kinds: ['configMap'], labelSelector: 'env=pr-1' });
    expect(result.error).toMatchObject({ code: 'NOT_MANAGED' });
    expect(result.error!.message).toContain(`ConfigMap ${ns}/b-theirs`);
    expect((await env.user.list('v1', 'ConfigMap', ns, 'env=pr-1')).map((c) => c.metadata.name)).toEqual([
      'a',
      'b-theirs',
    ]);
  });

  // Each stage's opt-in case fails if its write stops passing the stage's allowUnmanaged: checked once per stage
  // (scale, delete, undo-rollout, rolling restart, disable, dbRefresh's scale-in, and pointServices for enable and
  // deploy). Each refused case fails without the adapter's check (see the port test above); dbRefresh's, a selector
  // that picks only Jibe's workloads, fails if that term is dropped from its selector.
  describe.each(Object.keys(writeCases))('%s', (type) => {
    const c = (): WriteCase => writeCases[type]!;

    it('leaves an object Jibe does not manage unchanged without allowUnmanaged', async () => {
      const ns = await freshNamespace(type);
      await c().setup(ns, 'someone else');
      expect(await c().observe(ns)).toBe(c().before);
      const result = await c().run(ns, {});
      if (c().foreign === 'refused') {
        expect(result.status).toBe('TERMINAL');
        expect(result.error?.code, JSON.stringify(result.error)).toBe('NOT_MANAGED');
        expect(result.error!.message).toContain(`${c().object(ns)}: it is not managed by Jibe`);
        expect(result.error!.message).toContain('allowUnmanaged: true');
      } else if (c().foreign === 'not selected') {
        expect(result.error, JSON.stringify(result.error)).toBeUndefined();
        expect(await c().carriedOn!.observe(ns)).toBe(c().carriedOn!.expected);
      } else {
        // Fails if traffic writes took the managed-by rule's default instead of NAMED_SERVICE_WRITE: checked once by
        // making NAMED_SERVICE_WRITE empty (enable, disable and deploy then failed NOT_MANAGED).
        expect(result.error, JSON.stringify(result.error)).toBeUndefined();
        await env.adapter.advance(1_000);
        expect(await c().observe(ns)).toBe(c().after);
        const service = await env.user.get('v1', 'Service', ns, 'web');
        expect(service!.metadata.labels?.[MANAGED_BY]).toBeUndefined();
        expect((service!.spec!['selector'] as Record<string, string>)['app']).toBe('web');
        return;
      }
      await env.adapter.advance(1_000);
      expect(await c().observe(ns)).toBe(c().before);
    });

    it('changes it when the stage says allowUnmanaged: true', async () => {
      const ns = await freshNamespace(type);
      await c().setup(ns, 'someone else');
      const result = await c().run(ns, { allowUnmanaged: true });
      expect(result.error, JSON.stringify(result.error)).toBeUndefined();
      await env.adapter.advance(1_000);
      expect(await c().observe(ns)).toBe(c().after);
    });

    it('changes an object Jibe created', async () => {
      const ns = await freshNamespace(type);
      await c().setup(ns, 'jibe');
      const result = await c().run(ns, {});
      expect(result.error, JSON.stringify(result.error)).toBeUndefined();
      await env.adapter.advance(1_000);
      expect(await c().observe(ns)).toBe(c().after);
    });
  });
});
