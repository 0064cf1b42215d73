import { afterAll, beforeAll, expect, it } from 'vitest';
import { seedSampleApplication } from '../../apps/api/local-mode/sample-application';
import {
  describeExecution,
  replicasOf,
  type SimApi,
  stageNamed,
  startExecution,
  startSimApi,
  waitForExecution,
} from '../support/sim-api';

// Local mode as `npm start` runs it: no accounts configured, so the api's accounts are the two simulated clusters,
// and the seeded sample pipeline must run as is, twice (a first deploy, then a red/black to the next version).
let env: SimApi;

beforeAll(async () => {
  env = await startSimApi({ clusters: ['sim-staging', 'sim-production'] });
  expect(env.api.config.localMode).toBe(true);
});
afterAll(async () => {
  await env?.close();
});

it('runs the seeded sample pipeline twice: v000 then v001 red/black, scale-in, DB refresh', async () => {
  const { http, sim } = env;
  const pipeline = await seedSampleApplication(env.api.app);
  // Seeding is idempotent: a restart of local mode does not add a second pipeline.
  expect(await seedSampleApplication(env.api.app)).toEqual(pipeline);

  const first = await waitForExecution(http, await startExecution(http, pipeline.id, { parameters: { tag: '1.27' } }));
  expect(first.status, describeExecution(first)).toBe('SUCCEEDED');
  expect(stageNamed(first, 'Deploy to staging').outputs.deployedServerGroups).toMatchObject([
    { account: 'sim-staging', namespace: 'sample', name: 'sample-web-v000', version: 'v000' },
  ]);

  const second = await waitForExecution(http, await startExecution(http, pipeline.id, { parameters: { tag: '1.28' } }));
  expect(second.status, describeExecution(second)).toBe('SUCCEEDED');
  const deploy = stageNamed(second, 'Deploy to staging');
  expect(deploy.outputs.deployedServerGroups).toMatchObject([{ name: 'sample-web-v001', version: 'v001' }]);
  expect(deploy.outputs.previousServerGroups).toEqual([
    {
      service: 'sample-web',
      namespace: 'sample',
      cluster: 'sample-web',
      version: 'v000',
      serverGroup: 'sample-web-v000',
    },
  ]);

  const staging = sim.cluster('sim-staging');
  const service = staging.getObject('v1', 'Service', 'sample', 'sample-web') as any;
  expect(service.spec.selector).toMatchObject({ 'jibe.dev/cluster': 'sample-web', 'jibe.dev/version': 'v001' });
  const endpoints = staging.getObject('v1', 'Endpoints', 'sample', 'sample-web') as any;
  const ready = (endpoints.subsets ?? []).flatMap((s: any) => s.addresses ?? []);
  expect(ready).toHaveLength(2);
  expect(ready.every((a: any) => String(a.targetRef?.name).startsWith('sample-web-v001-'))).toBe(true);

  // The scale-in took v000 to 0; the DB refresh scaled v001 down meanwhile and brought it back, leaving v000 at 0.
  expect(stageNamed(second, 'Scale in previous versions').status).toBe('SUCCEEDED');
  const refresh = stageNamed(second, 'Refresh staging database');
  expect(refresh.outputs).toMatchObject({ ROWS_COPIED: '12345', TABLES_COPIED: '42', jobStatus: 'Complete' });
  expect(refresh.outputs.restored).toEqual(['deployment sample-web-v001 in sample: 2']);
  expect(replicasOf(sim, 'sim-staging', 'sample', 'sample-web-v001')).toBe(2);
  expect(replicasOf(sim, 'sim-staging', 'sample', 'sample-web-v000')).toBe(0);
  const image = (staging.getObject('apps/v1', 'Deployment', 'sample', 'sample-web-v001') as any).spec.template.spec
    .containers[0].image;
  expect(image).toBe('nginx:1.28');
  // Nothing went to the production cluster.
  expect(sim.cluster('sim-production').listObjects('apps/v1', 'Deployment', 'sample')).toEqual([]);
});
