import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api-app';
import { httpClient } from '../support/http-client';

let api: RunningApi;
let http: ReturnType<typeof httpClient>;

beforeAll(async () => {
  api = await startApi();
  http = httpClient(api.url);
  await http.post('/api/applications', { name: 'shop' });
});
afterAll(async () => {
  await api.close();
});

describe('GET /api/stage-types', () => {
  it('lists exactly the stage types a saved pipeline may use, each with its description and config schema', async () => {
    const listed = await http.get('/api/stage-types');
    expect(listed.status).toBe(200);
    const types = (listed.body.items as { type: string }[]).map((item) => item.type);

    // The types a pipeline save accepts, as its error for an unknown type names them.
    const refused = await http.post('/api/pipelines', {
      application: 'shop',
      name: 'probe',
      stages: [{ refId: '1', type: 'teleport' }],
    });
    expect(refused.status).toBe(422);
    const known = /\(known: ([^)]*)\)/.exec(refused.body.error.details[0].message)![1]!.split(', ');
    expect(types).toEqual(known);

    for (const item of listed.body.items) {
      expect(item.description, item.type).toMatch(/\w{3,}/);
      expect(item.config.$schema, item.type).toBe('https://json-schema.org/draft/2020-12/schema');
    }
  });

  it("describes a stage's own config keys, as pipeline validation reads them", async () => {
    const wait = await http.get('/api/stage-types/wait');
    expect(wait.status).toBe(200);
    expect(wait.body.config.properties).toHaveProperty('waitTime');

    const deploy = await http.get('/api/stage-types/deployManifest');
    expect(deploy.body.description).toMatch(/manifest/i);
    expect(Object.keys(deploy.body.config.properties)).toEqual(
      expect.arrayContaining(['account', 'manifests', 'trafficManagement']),
    );
  });

  it('answers 404 naming the known types for a type it does not have', async () => {
    const missing = await http.get('/api/stage-types/kayentaCanary');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/deployManifest/) });
  });
});
