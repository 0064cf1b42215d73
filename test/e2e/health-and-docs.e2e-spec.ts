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

describe('health', () => {
  it('is alive and ready when Postgres and Redis answer', async () => {
    expect((await http.get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await http.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.postgres.ok).toBe(true);
    expect(ready.body.checks.redis.ok).toBe(true);
  });

  it('is not ready when Redis is unreachable, and says so without revealing hosts, ports or driver messages', async () => {
    const broken = await startApi({ REDIS_URL: 'redis://127.0.0.1:1', JIBE_ROLE: 'api' });
    try {
      const ready = await httpClient(broken.url).get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.postgres.ok).toBe(true);
      expect(ready.body.checks.redis).toEqual({ ok: false, error: 'unreachable', latencyMs: expect.any(Number) });
      expect(JSON.stringify(ready.body)).not.toMatch(/127\.0\.0\.1|localhost|ECONNREFUSED|redis:\/\//);
    } finally {
      await broken.close();
    }
  });
});

describe('headers', () => {
  it('does not advertise the framework with X-Powered-By', async () => {
    const response = await http.get('/healthz');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-powered-by')).toBeNull();
  });
});

describe('OpenAPI document', () => {
  it('documents every route the api serves, and only those', async () => {
    const doc = await http.get('/api/docs');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();

    // Express 5 keeps its routes on app.router.stack; each layer with a route is one registered endpoint.
    const express = api.app.getHttpAdapter().getInstance() as {
      router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
    };
    const served = express.router.stack
      .filter((layer) => layer.route?.path.startsWith('/'))
      .flatMap((layer) =>
        Object.keys(layer.route!.methods).map(
          (method) => `${method.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`,
        ),
      )
      .sort();
    expect(documented).toEqual(served);
  });

  it('describes the pipeline body from the same zod schema the server validates with', async () => {
    const doc = await http.get('/api/docs');
    const schema = doc.body.paths['/api/pipelines'].post.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(expect.arrayContaining(['application', 'name', 'stages']));
    expect(schema.properties.maxConcurrentExecutions).toMatchObject({ type: 'integer' });
  });

  it('documents that a revert carries the version it is based on', async () => {
    const doc = await http.get('/api/docs');
    const schema = doc.body.paths['/api/pipelines/{id}/revert'].post.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(['version', 'expectedVersion']);
    expect(schema.properties.expectedVersion).toMatchObject({ type: 'integer', maximum: 2_147_483_647 });
  });
});
