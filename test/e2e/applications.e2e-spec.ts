import { ValidationError } from '@jibe/domain';
import { PipelineRepository } from '@jibe/persistence';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api-app';
import { httpClient } from '../support/http-client';

let api: RunningApi;
let http: ReturnType<typeof httpClient>;

beforeAll(async () => {
  api = await startApi();
  http = httpClient(api.url);
});
afterAll(async () => {
  await api.close();
});

const waitPipeline = (application: string, name: string) => ({
  application,
  name,
  stages: [{ refId: '1', type: 'wait', waitTime: 1 }],
});

describe('applications over HTTP', () => {
  it('creates, reads, updates and deletes an application, keeping Spinnaker keys it does not model', async () => {
    const created = await http.post('/api/applications', {
      name: 'billing',
      email: 'billing@example.com',
      cloudProviders: 'kubernetes',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'billing', version: 1, cloudProviders: 'kubernetes' });
    expect((await http.post('/api/applications', { name: 'billing' })).body.error).toMatchObject({
      code: 'ALREADY_EXISTS',
      details: [{ path: 'name', message: 'already exists' }],
    });

    const updated = await http.put('/api/applications/billing', { version: 1, description: 'invoices' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ version: 2, description: 'invoices' });
    expect((await http.get('/api/applications/billing')).body).toMatchObject({ version: 2, description: 'invoices' });

    expect((await http.delete('/api/applications/billing')).status).toBe(204);
    expect((await http.get('/api/applications/billing')).status).toBe(404);
  });

  it('refuses an update based on a stale version and keeps the other writer’s change', async () => {
    await http.post('/api/applications', { name: 'stale' });
    expect((await http.put('/api/applications/stale', { version: 1, description: 'first writer' })).status).toBe(200);
    const late = await http.put('/api/applications/stale', { version: 1, description: 'second writer' });
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({
      code: 'VERSION_CONFLICT',
      details: [{ path: 'version', message: 'stale: current version is 2' }],
    });
    expect((await http.get('/api/applications/stale')).body.description).toBe('first writer');
  });

  it('refuses to delete an application while it has pipelines, and deletes it once they are gone', async () => {
    await http.post('/api/applications', { name: 'busy' });
    const pipeline = (await http.post('/api/pipelines', waitPipeline('busy', 'Deploy'))).body;
    const refused = await http.delete('/api/applications/busy');
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('HAS_PIPELINES');
    expect(refused.body.error.message).toContain('1 pipeline');
    expect((await http.get('/api/applications/busy')).status).toBe(200);

    expect((await http.delete(`/api/pipelines/${pipeline.id}`)).status).toBe(204);
    expect((await http.delete('/api/applications/busy')).status).toBe(204);
  });

  it('pages through applications in name order with a cursor', async () => {
    const names = ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'];
    for (const name of [...names].reverse()) expect((await http.post('/api/applications', { name })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await http.get(`/api/applications?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((a: { name: string }) => a.name));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen.filter((name) => name.startsWith('page-'))).toEqual(names);
    expect(pages).toBe(Math.ceil(seen.length / 2));
  });

  it('names the path parameter that is invalid, and the missing body field as "required"', async () => {
    const badName = await http.get('/api/applications/Not_A_Name');
    expect(badName.status).toBe(400);
    expect(badName.body.error.details).toEqual([{ path: 'name', message: expect.stringContaining('lowercase') }]);
    await http.post('/api/applications', { name: 'fields' });
    const noVersion = await http.put('/api/applications/fields', { description: 'x' });
    expect(noVersion.body.error.details).toEqual([{ path: 'version', message: 'required' }]);
  });

  it('answers 415 to a write that is not JSON', async () => {
    for (const [method, path] of [
      ['POST', '/api/applications'],
      ['PUT', '/api/applications/anything'],
      ['POST', '/api/pipelines'],
    ] as const) {
      const response = await fetch(new URL(path, api.url), {
        method,
        headers: { 'content-type': 'text/plain' },
        body: '{"name":"plain"}',
      });
      expect(response.status).toBe(415);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    const noBody = await fetch(new URL('/api/applications', api.url), { method: 'POST' });
    expect(noBody.status).toBe(415);
  });
});

describe('an application deleted between the check and the insert', () => {
  it('is a 422 on `application`, as if the check had caught it, not a 500', async () => {
    // The service checks the application exists, then the repository inserts; drive the repository directly to
    // land in that window deterministically.
    const repository = api.app.get(PipelineRepository);
    const attempt = repository.create('race', { application: 'ghost', name: 'Race', config: {} }, 'test');
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({
      details: [{ path: 'application', message: 'no application named "ghost"; create it first' }],
    });
  });
});
