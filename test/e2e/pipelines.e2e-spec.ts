import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api-app';
import { httpClient } from '../support/http-client';

let api: RunningApi;
let http: ReturnType<typeof httpClient>;

const waitPipeline = (
  name: string,
  stages: unknown[] = [{ refId: '1', type: 'wait', name: 'Pause', waitTime: 5 }],
) => ({
  application: 'shop',
  name,
  stages,
  customTopLevelKey: { kept: true },
});

beforeAll(async () => {
  api = await startApi();
  http = httpClient(api.url);
  expect((await http.post('/api/applications', { name: 'shop', email: 'team@example.com' })).status).toBe(201);
});
afterAll(async () => {
  await api.close();
});

describe('pipelines over HTTP', () => {
  it('creates, reads, lists, updates and deletes a pipeline', async () => {
    const created = await http.post('/api/pipelines', waitPipeline('Create and read'));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      application: 'shop',
      name: 'Create and read',
      version: 1,
      lastModifiedBy: 'anonymous',
    });
    expect(created.body.customTopLevelKey).toEqual({ kept: true });
    const id = created.body.id as string;

    const read = await http.get(`/api/pipelines/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.stages).toEqual([
      { refId: '1', type: 'wait', name: 'Pause', waitTime: 5, requisiteStageRefIds: [] },
    ]);

    const updated = await http.put(`/api/pipelines/${id}`, { ...read.body, name: 'Renamed', version: 1 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'Renamed', version: 2 });
    expect((await http.get(`/api/pipelines/${id}`)).body.name).toBe('Renamed');

    const listed = await http.get('/api/pipelines?application=shop');
    expect(listed.body.items.map((p: { id: string }) => p.id)).toContain(id);

    expect((await http.delete(`/api/pipelines/${id}`)).status).toBe(204);
    const gone = await http.get(`/api/pipelines/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('NOT_FOUND');
  });

  it('pages through pipelines of one application with a cursor', async () => {
    await http.post('/api/applications', { name: 'paging' });
    const names = Array.from({ length: 7 }, (_, i) => `P${String(i).padStart(2, '0')}`);
    for (const name of names)
      expect((await http.post('/api/pipelines', { ...waitPipeline(name), application: 'paging' })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await http.get(`/api/pipelines?application=paging&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((p: { name: string }) => p.name));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(names);
    expect(pages).toBe(3);
    expect((await http.get('/api/pipelines?cursor=garbage')).body.error.details).toEqual([
      { path: 'cursor', message: 'not a cursor this server issued' },
    ]);
  });

  it('keeps every version, diffs them and reverts as a new version', async () => {
    const v1 = (await http.post('/api/pipelines', waitPipeline('Versioned'))).body;
    const v2 = (
      await http.put(`/api/pipelines/${v1.id}`, {
        ...v1,
        version: 1,
        stages: [{ refId: '1', type: 'wait', name: 'Pause', waitTime: 30 }],
      })
    ).body;
    expect(v2.version).toBe(2);
    await http.put(`/api/pipelines/${v1.id}`, { ...v2, version: 2, description: 'third' });

    const history = await http.get(`/api/pipelines/${v1.id}/history`);
    expect(history.body.items.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);

    const old = await http.get(`/api/pipelines/${v1.id}/history/1`);
    expect(old.body.stages[0].waitTime).toBe(5);

    const diff = await http.get(`/api/pipelines/${v1.id}/diff?from=1&to=3`);
    expect(diff.body.changes).toEqual([
      { path: 'stages[0].waitTime', op: 'changed', before: 5, after: 30 },
      { path: 'description', op: 'added', after: 'third' },
    ]);

    const withoutBase = await http.post(`/api/pipelines/${v1.id}/revert`, { version: 1 });
    expect(withoutBase.status).toBe(400);
    expect(withoutBase.body.error.details).toEqual([{ path: 'expectedVersion', message: 'required' }]);

    const reverted = await http.post(`/api/pipelines/${v1.id}/revert`, { version: 1, expectedVersion: 3 });
    expect(reverted.status).toBe(201);
    expect(reverted.body).toMatchObject({ version: 4 });
    expect(reverted.body.stages[0].waitTime).toBe(5);
    expect(reverted.body.description).toBeUndefined();
    const after = await http.get(`/api/pipelines/${v1.id}/history`);
    expect(after.body.items[0]).toMatchObject({ version: 4, revertedFrom: 1 });
    expect((await http.get(`/api/pipelines/${v1.id}/history/9`)).status).toBe(404);
  });

  it('refuses a revert based on a stale version, so it cannot overwrite a save made in between', async () => {
    const v1 = (await http.post('/api/pipelines', waitPipeline('Revert race'))).body;
    const v2 = (await http.put(`/api/pipelines/${v1.id}`, { ...v1, version: 1, description: 'second' })).body;
    // Someone else saves version 3 while the caller, who read version 2, decides to revert to version 1.
    await http.put(`/api/pipelines/${v1.id}`, { ...v2, version: 2, description: 'concurrent save' });
    const stale = await http.post(`/api/pipelines/${v1.id}/revert`, { version: 1, expectedVersion: 2 });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({
      code: 'VERSION_CONFLICT',
      details: [{ path: 'version', message: 'stale: current version is 3' }],
    });
    const current = (await http.get(`/api/pipelines/${v1.id}`)).body;
    expect(current).toMatchObject({ version: 3, description: 'concurrent save' });
    expect((await http.get(`/api/pipelines/${v1.id}/history`)).body.items).toHaveLength(3);
  });

  it('lets exactly one of two concurrent writers of the same version win; the other gets 409 and changes nothing', async () => {
    const base = (await http.post('/api/pipelines', waitPipeline('Contended'))).body;
    const [a, b] = await Promise.all([
      http.put(`/api/pipelines/${base.id}`, { ...base, version: 1, description: 'writer A' }),
      http.put(`/api/pipelines/${base.id}`, { ...base, version: 1, description: 'writer B' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    const winner = a.status === 200 ? a : b;
    expect(loser.body.error.code).toBe('VERSION_CONFLICT');
    expect(loser.body.error.details).toEqual([{ path: 'version', message: 'stale: current version is 2' }]);

    const current = await http.get(`/api/pipelines/${base.id}`);
    expect(current.body.version).toBe(2);
    expect(current.body.description).toBe(winner.body.description);
    const history = await http.get(`/api/pipelines/${base.id}/history`);
    expect(history.body.items).toHaveLength(2);

    const stale = await http.put(`/api/pipelines/${base.id}`, { ...base, version: 1, description: 'late' });
    expect(stale.status).toBe(409);
    expect((await http.get(`/api/pipelines/${base.id}`)).body.description).toBe(winner.body.description);
  });

  it('refuses a duplicate name in one application and a pipeline for an unknown application', async () => {
    expect((await http.post('/api/pipelines', waitPipeline('Twice'))).status).toBe(201);
    const again = await http.post('/api/pipelines', waitPipeline('Twice'));
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual([{ path: 'name', message: 'already used in this application' }]);
    const orphan = await http.post('/api/pipelines', { ...waitPipeline('Orphan'), application: 'nope' });
    expect(orphan.status).toBe(422);
    expect(orphan.body.error.details).toEqual([
      { path: 'application', message: 'no application named "nope"; create it first' },
    ]);
  });
});

describe('invalid input is a 4xx naming the path, never a 5xx, and saves nothing', () => {
  const cases: [string, unknown, number, { path: string; message: string | RegExp }][] = [
    [
      'a cycle',
      waitPipeline('Cycle', [
        { refId: '1', type: 'wait', waitTime: 1, requisiteStageRefIds: ['2'] },
        { refId: '2', type: 'wait', waitTime: 1, requisiteStageRefIds: ['1'] },
      ]),
      422,
      { path: 'stages[0].requisiteStageRefIds', message: 'cycle: "1" → "2" → "1"' },
    ],
    [
      'a dangling requisite',
      waitPipeline('Dangling', [{ refId: '1', type: 'wait', waitTime: 1, requisiteStageRefIds: ['7'] }]),
      422,
      { path: 'stages[0].requisiteStageRefIds[0]', message: 'no stage has refId "7"' },
    ],
    [
      'a duplicate refId',
      waitPipeline('Duplicate', [
        { refId: '1', type: 'wait', waitTime: 1 },
        { refId: '1', type: 'wait', waitTime: 2 },
      ]),
      422,
      { path: 'stages[1].refId', message: 'duplicate refId "1" (also used by stages[0])' },
    ],
    [
      'an unknown stage type',
      waitPipeline('Unknown', [{ refId: '1', type: 'teleport' }]),
      422,
      { path: 'stages[0].type', message: /^unknown stage type "teleport"/ },
    ],
    [
      'a wrong field type',
      waitPipeline('Wrong type', [{ refId: '1', type: 'wait', waitTime: 1, stageTimeoutMs: 'long' }]),
      422,
      { path: 'stages[0].stageTimeoutMs', message: /expected/ },
    ],
    ['a missing field', { application: 'shop', stages: [] }, 422, { path: 'name', message: 'required' }],
    [
      'a hostile key deep inside',
      {
        ...waitPipeline('Hostile'),
        stages: [{ refId: '1', type: 'wait', waitTime: 1, constructor: { prototype: {} } }],
      },
      400,
      { path: 'stages[0].constructor', message: /not allowed/ },
    ],
    ['a body that is not an object', [1, 2, 3], 400, { path: '(root)', message: /expected record/ }],
  ];

  for (const [what, body, status, detail] of cases) {
    it(`rejects ${what}`, async () => {
      const before = (await http.get('/api/pipelines?application=shop&limit=500')).body.items.length;
      const response = await http.post('/api/pipelines', body);
      expect(response.status).toBe(status);
      expect(response.body.error.details).toContainEqual({
        path: detail.path,
        message: typeof detail.message === 'string' ? detail.message : expect.stringMatching(detail.message),
      });
      expect((await http.get('/api/pipelines?application=shop&limit=500')).body.items.length).toBe(before);
    });
  }

  it('refuses __proto__ and constructor sent as raw JSON, at the top and deep inside, naming each, saving nothing', async () => {
    const before = (await http.get('/api/pipelines?application=shop&limit=500')).body.items.length;
    const response = await http.raw(
      'POST',
      '/api/pipelines',
      '{"application":"shop","name":"x","__proto__":{"polluted":true},' +
        '"stages":[{"refId":"1","type":"wait","waitTime":1,"labels":{"__proto__":{"polluted":true}}}],' +
        '"trigger":{"constructor":{"prototype":{}}}}',
    );
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('HOSTILE_KEY');
    expect(response.body.error.details.map((d: { path: string }) => d.path)).toEqual([
      '__proto__',
      'stages[0].labels.__proto__',
      'trigger.constructor',
    ]);
    expect((await http.get('/api/pipelines?application=shop&limit=500')).body.items.length).toBe(before);
  });

  it('rejects an oversized body with 413 before parsing it', async () => {
    const huge = JSON.stringify({
      ...waitPipeline('Huge'),
      description: 'x'.repeat(api.config.http.bodyLimitBytes + 1),
    });
    const response = await http.raw('POST', '/api/pipelines', huge);
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(response.body.error.details[0].path).toBe('(body)');
  });

  it('rejects malformed JSON with 400', async () => {
    const response = await http.raw('POST', '/api/pipelines', '{"application": "shop",');
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('INVALID_JSON');
  });

  it('rejects an update without the version it is based on', async () => {
    const created = (await http.post('/api/pipelines', waitPipeline('Needs version'))).body;
    const { version: _version, ...withoutVersion } = created;
    const response = await http.put(`/api/pipelines/${created.id}`, withoutVersion);
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([{ path: 'version', message: 'required' }]);
  });

  it('answers 404 in the error format for unknown routes and ids', async () => {
    const route = await http.get('/api/nothing-here');
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('NOT_FOUND');
    expect((await http.get('/api/pipelines/does-not-exist')).status).toBe(404);
    expect((await http.get('/api/pipelines/bad%20id')).status).toBe(400);
  });
});
