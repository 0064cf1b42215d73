import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPipeline,
  describeExecution,
  type SimApi,
  stageNamed,
  startExecution,
  startSimApi,
  waitForExecution,
} from '../support/sim-api';

// Real exported Spinnaker pipelines RUN against the simulator: loaded unedited, their `account` fields mapped to
// a simulated account in the test, saved and executed over HTTP.
const FIXTURES = join(__dirname, '../fixtures/spinnaker');
const ACCOUNT = 'sim-staging';
let env: SimApi;

function load(file: string): Record<string, any> {
  return JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Record<string, any>;
}

/** The pipeline with every stage's `account` pointing at the simulated cluster. */
function mapAccounts(pipeline: Record<string, any>): Record<string, any> {
  return {
    ...pipeline,
    stages: (pipeline['stages'] as Record<string, unknown>[]).map((s) =>
      typeof s['account'] === 'string' ? { ...s, account: ACCOUNT } : s,
    ),
  };
}

beforeAll(async () => {
  env = await startSimApi({ clusters: [ACCOUNT, 'sim-production'] });
});
afterAll(async () => {
  await env?.close();
});

describe('real Spinnaker pipelines run against the simulator', () => {
  it('10-official-bluegreen-replicaset: deploys helloworld-vNNN, disables and scales the previous version', async () => {
    const cluster = env.sim.cluster(ACCOUNT);
    // The codelab creates the Service `hellosvc` once, outside the pipeline; the load-balancers annotation names it.
    cluster.api.create(cluster.registry.mustForKind('v1', 'Service'), 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'hellosvc', namespace: 'default' },
      spec: { selector: { app: 'helloworld' }, ports: [{ port: 80, targetPort: 6000 }] },
    });
    const id = await createPipeline(env.http, mapAccounts(load('10-official-bluegreen-replicaset.json')));

    // As in Spinnaker, the very first run has no second-newest version to disable.
    const first = await waitForExecution(env.http, await startExecution(env.http, id, { parameters: {} }));
    expect(first.status, describeExecution(first)).toBe('TERMINAL');
    expect(stageNamed(first, 'Deploy (Manifest)').status).toBe('SUCCEEDED');
    expect(stageNamed(first, 'Disable (Manifest)').error.message).toBe(
      'no second newest version of replicaSet helloworld in default: found only helloworld-v000',
    );

    const second = await waitForExecution(
      env.http,
      await startExecution(env.http, id, { parameters: { hellotag: 'v2' } }),
    );
    expect(second.status, describeExecution(second)).toBe('SUCCEEDED');
    const sets = cluster.listObjects('apps/v1', 'ReplicaSet', 'default') as any[];
    const byName = Object.fromEntries(sets.map((r) => [r.metadata.name, r]));
    expect(Object.keys(byName).sort()).toEqual(['helloworld-v000', 'helloworld-v001']);
    expect(byName['helloworld-v001'].spec.template.spec.containers[0].image).toBe(
      'us-docker.pkg.dev/spinnaker-community/codelabs/helloworld:v2',
    );
    expect(byName['helloworld-v001'].spec.replicas).toBe(3);
    // Disabled (the Service no longer selects it), then scaled to 1 by the Scale (Manifest) stage.
    expect(byName['helloworld-v000'].spec.replicas).toBe(1);
    const service = cluster.getObject('v1', 'Service', 'default', 'hellosvc') as any;
    expect(service.spec.selector).toMatchObject({ 'jibe.dev/cluster': 'helloworld', 'jibe.dev/version': 'v001' });
    const endpoints = cluster.getObject('v1', 'Endpoints', 'default', 'hellosvc') as any;
    const addresses = (endpoints.subsets ?? []).flatMap((s: any) => s.addresses ?? []);
    expect(addresses).toHaveLength(3);
    expect(addresses.every((a: any) => String(a.targetRef.name).startsWith('helloworld-v001-'))).toBe(true);
  });

  for (const [file, stage, artifact] of [
    ['01-gke-helloworld-deploy-staging.json', 'Deploy Namespace', '097c2e8e-295f-4020-85d9-18ed18f6133b'],
    ['04-gke-codelab-deploy-to-staging.json', 'Deploy Frontend to Staging', 'manifest-artifact'],
  ] as const) {
    it(`${file}: cannot run without the GCS manifest artifact its Pub/Sub trigger brings`, async () => {
      const pipeline = mapAccounts(load(file));
      const id = await createPipeline(env.http, { ...pipeline, name: `${String(pipeline['name'])} (${file})` });
      const execution = await waitForExecution(env.http, await startExecution(env.http, id, { parameters: {} }));
      expect(execution.status, describeExecution(execution)).toBe('TERMINAL');
      const failed = (execution.stages as any[]).find((s) => s.status === 'TERMINAL');
      expect(failed?.name, describeExecution(execution)).toBe(stage);
      expect(failed.error.message).toBe(
        `no artifact "${artifact}" in this execution (artifacts here: none); produce it with bakeManifest upstream or pass it in the trigger`,
      );
    });
  }
});
