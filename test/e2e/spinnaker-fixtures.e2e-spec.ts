import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stageRegistry } from '@jibe/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api-app';
import { httpClient } from '../support/http-client';

const FIXTURES = join(__dirname, '../../../shared/fixtures/spinnaker');
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
 * Real exported Spinnaker pipelines. This pins which ones Jibe accepts today and, for the rest, the exact per-stage
 * reason: a stage type Jibe does not know yet. As stage types are added, the expectations here move to "accepted".
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

  const unknownType = (index: number, type: string) => ({
    path: `stages[${index}].type`,
    message: `unknown stage type "${type}" (known: ${stageRegistry.types().join(', ')})`,
  });

  const rejected: [string, { path: string; message: string }[]][] = [
    [
      '01-gke-helloworld-deploy-staging.json',
      [
        unknownType(0, 'deployManifest'),
        unknownType(1, 'deleteManifest'),
        unknownType(2, 'deployManifest'),
        unknownType(4, 'deployManifest'),
        unknownType(5, 'deployManifest'),
      ],
    ],
    [
      '04-gke-codelab-deploy-to-staging.json',
      [unknownType(0, 'deployManifest'), unknownType(1, 'deployManifest'), unknownType(3, 'deployManifest')],
    ],
    ['07-orca-adhoc-deploy-manifest.json', [unknownType(0, 'deployManifest')]],
    [
      '10-official-bluegreen-replicaset.json',
      [unknownType(0, 'deployManifest'), unknownType(1, 'disableManifest'), unknownType(2, 'scaleManifest')],
    ],
  ];

  for (const [file, details] of rejected) {
    it(`rejects ${file} only for the stage types Jibe does not know yet`, async () => {
      const response = await http.post('/api/pipelines', load(file));
      expect(response.status).toBe(422);
      expect(response.body.error.details).toEqual(details);
    });
  }
});
