import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api-app';
import { httpClient } from '../support/http-client';

const FIXTURES = join(__dirname, '../fixtures/spinnaker');
const load = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Record<string, unknown>;

let api: RunningApi;
let http: ReturnType<typeof httpClient>;

beforeAll(async () => {
  api = await startApi();
  http = httpClient(api.url);
  for (const name of ['compute', 'demo', 'helloworld', 'helloworldwebapp', 'amahajantest']) {
    expect((await http.post('/api/applications', { name })).status).toBe(201);
  }
});
afterAll(async () => {
  await api.close();
});

/**
 * Real exported Spinnaker pipelines. This pins which ones Jibe accepts (their stage fields are Spinnaker's) and, for
 * the rest, the exact reason with its path.
 */
describe('real Spinnaker pipelines', () => {
  it('accepts the Deck pipeline with parameters and a wait stage, keeping its id and parameters', async () => {
    const [pipeline] = load('08-deck-pipeline-config-with-parameters.json') as unknown as Record<string, unknown>[];
    const response = await http.post('/api/pipelines', pipeline);
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      id: 'd6e7e0bc-83f5-461f-a95c-568080b49b6e',
      application: 'compute',
      name: 'Simple Wait Pipeline',
      version: 1,
      lastModifiedBy: 'anonymous',
    });
    expect(response.body.parameterConfig.map((p: { name: string }) => p.name)).toEqual(['param1', 'param2']);
    expect(response.body.updateTs).not.toBe('1551204837863');
  });

  const accepted: [string, string, string[]][] = [
    [
      '01-gke-helloworld-deploy-staging.json',
      'helloworldwebapp',
      ['deployManifest', 'deleteManifest', 'deployManifest', 'checkPreconditions', 'deployManifest', 'deployManifest'],
    ],
    [
      '04-gke-codelab-deploy-to-staging.json',
      'demo',
      ['deployManifest', 'deployManifest', 'manualJudgment', 'deployManifest'],
    ],
    ['10-official-bluegreen-replicaset.json', 'helloworld', ['deployManifest', 'disableManifest', 'scaleManifest']],
  ];

  const saved = new Map<string, { stages: Record<string, unknown>[] }>();
  for (const [file, application, types] of accepted) {
    it(`accepts ${file} with Spinnaker's own stage fields`, async () => {
      const response = await http.post('/api/pipelines', load(file));
      expect(response.status).toBe(201);
      expect(response.body.application).toBe(application);
      expect(response.body.stages.map((s: { type: string }) => s.type)).toEqual(types);
      saved.set(file, response.body);
    });
  }

  it('keeps the Spinnaker keys Jibe does not use', () => {
    const [deploy, disable] = saved.get('10-official-bluegreen-replicaset.json')!.stages;
    expect(deploy).toMatchObject({
      cloudProvider: 'kubernetes',
      manifestArtifactAccount: 'embedded-artifact',
      source: 'text',
    });
    expect(deploy?.['relationships']).toEqual({ loadBalancers: [], securityGroups: [] });
    expect(disable).toMatchObject({ mode: 'dynamic', cluster: 'replicaSet helloworld', criteria: 'second_newest' });
  });

  it('rejects the Orca ad-hoc body, whose only manifest is empty, naming each missing field', async () => {
    const response = await http.post('/api/pipelines', load('07-orca-adhoc-deploy-manifest.json'));
    expect(response.status).toBe(422);
    expect(response.body.error.details).toEqual([
      { path: 'stages[0].manifests[0].apiVersion', message: 'required' },
      { path: 'stages[0].manifests[0].kind', message: 'required' },
      { path: 'stages[0].manifests[0].metadata', message: 'required' },
    ]);
  });
});
