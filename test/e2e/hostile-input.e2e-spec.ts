import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api-app';
import { httpClient, type HttpResult } from '../support/http-client';

let api: RunningApi;
let http: ReturnType<typeof httpClient>;
let pipelineId: string;

const wait = { refId: '1', type: 'wait', waitTime: 1 };
const pipeline = (extra: Record<string, unknown> = {}) => ({
  application: 'hostile',
  name: 'Target',
  stages: [wait],
  ...extra,
});
const cursorOf = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
const deepPath = (prefix: string, depth: number) => prefix + '[0]'.repeat(depth);

beforeAll(async () => {
  api = await startApi();
  http = httpClient(api.url);
  expect((await http.post('/api/applications', { name: 'hostile' })).status).toBe(201);
  const created = await http.post('/api/pipelines', pipeline());
  expect(created.status).toBe(201);
  pipelineId = created.body.id;
  expect((await http.put(`/api/pipelines/${pipelineId}`, { ...created.body, version: 1 })).status).toBe(200);
});
afterAll(async () => {
  await api.close();
});

/**
 * Input that once reached Postgres or the stack and came back as a 500. Each must be a 4xx naming where the
 * problem is, and must leave the stored pipeline as it was.
 */
describe('hostile input is a 4xx naming the path, never a 5xx', () => {
  const cases: [string, () => Promise<HttpResult>, number, { path: string; message: string | RegExp }][] = [
    [
      'arrays nested 5,000 deep',
      () =>
        http.raw(
          'POST',
          '/api/pipelines',
          JSON.stringify(pipeline({ description: 'DEEP' })).replace(
            '"DEEP"',
            `${'['.repeat(5000)}1${']'.repeat(5000)}`,
          ),
        ),
      400,
      { path: deepPath('description', 63), message: 'nested deeper than 64 levels' },
    ],
    [
      'objects nested 5,000 deep, sent as raw JSON',
      () => http.raw('POST', '/api/pipelines', `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`),
      400,
      { path: Array<string>(64).fill('a').join('.'), message: 'nested deeper than 64 levels' },
    ],
    [
      'a NUL character in a stage field',
      () => http.post('/api/pipelines', pipeline({ stages: [{ ...wait, name: 'a\u0000b' }] })),
      400,
      { path: 'stages[0].name', message: /NUL/ },
    ],
    [
      'a NUL character in a key',
      () => http.post('/api/pipelines', pipeline({ labels: { 'a\u0000': 'x' } })),
      400,
      { path: "labels['a\\u0000']", message: /NUL/ },
    ],
    [
      'a lone surrogate in a string',
      () => http.raw('POST', '/api/pipelines', JSON.stringify(pipeline()).replace('"Target"', '"T\\ud800"')),
      400,
      { path: 'name', message: /lone surrogate/ },
    ],
    [
      'a lone surrogate in an update',
      () => http.put(`/api/pipelines/${pipelineId}`, { ...pipeline({ description: '\udc00' }), version: 2 }),
      400,
      { path: 'description', message: /lone surrogate/ },
    ],
    [
      'a NUL character in a query',
      () => http.get('/api/pipelines?application=%00'),
      400,
      { path: 'application', message: /NUL/ },
    ],
    [
      'a NUL character in a path parameter',
      () => http.get('/api/pipelines/a%00b'),
      400,
      { path: 'id', message: 'not a pipeline id' },
    ],
    [
      'a forged cursor holding a NUL character',
      () => http.get(`/api/pipelines?cursor=${cursorOf(['hostile', 'a\u0000', 'x'])}`),
      400,
      { path: 'cursor', message: 'not a cursor this server issued' },
    ],
    [
      'a forged cursor holding a lone surrogate',
      () => http.get(`/api/applications?cursor=${cursorOf(['\ud800'])}`),
      400,
      { path: 'cursor', message: 'not a cursor this server issued' },
    ],
    [
      'a version above the integer column in an update body',
      () => http.put(`/api/pipelines/${pipelineId}`, { ...pipeline(), version: 2_147_483_648 }),
      400,
      { path: 'version', message: /2147483647/ },
    ],
    [
      'a version above the integer column in a path',
      () => http.get(`/api/pipelines/${pipelineId}/history/2147483648`),
      400,
      { path: 'version', message: /2147483647/ },
    ],
    [
      'a version above the integer column in a query',
      () => http.get(`/api/pipelines/${pipelineId}/diff?from=1&to=99999999999`),
      400,
      { path: 'to', message: /version number|2147483647/ },
    ],
    [
      'a version above the integer column in a delete',
      () => http.delete(`/api/pipelines/${pipelineId}?version=2147483648`),
      400,
      { path: 'version', message: /2147483647/ },
    ],
    [
      'a version above the integer column in a revert',
      () => http.post(`/api/pipelines/${pipelineId}/revert`, { version: 1, expectedVersion: 2 ** 40 }),
      400,
      { path: 'expectedVersion', message: /2147483647/ },
    ],
    [
      'a version above the integer column in an application update',
      () => http.put('/api/applications/hostile', { version: 2 ** 31 }),
      400,
      { path: 'version', message: /2147483647/ },
    ],
    [
      'a numeric refId beyond safe integers',
      () => http.raw('POST', '/api/pipelines', JSON.stringify(pipeline()).replace('"refId":"1"', '"refId":1e300')),
      422,
      { path: 'stages[0].refId', message: /int|number/ },
    ],
  ];

  for (const [what, send, status, detail] of cases) {
    it(`refuses ${what}`, async () => {
      const response = await send();
      expect(response.status).toBe(status);
      expect(response.body.error.details).toContainEqual({
        path: detail.path,
        message: typeof detail.message === 'string' ? detail.message : expect.stringMatching(detail.message),
      });
      const current = await http.get(`/api/pipelines/${pipelineId}`);
      expect(current.body).toMatchObject({ version: 2, name: 'Target', stages: [{ refId: '1' }] });
    });
  }

  it('stores a huge string refId within the body limit and reads it back', async () => {
    const refId = 'r'.repeat(200_000);
    const created = await http.post(
      '/api/pipelines',
      pipeline({
        name: 'Huge refIds',
        stages: [
          { ...wait, refId },
          { ...wait, refId: '2', requisiteStageRefIds: [refId] },
        ],
      }),
    );
    expect(created.status).toBe(201);
    const read = await http.get(`/api/pipelines/${created.body.id}`);
    expect(read.body.stages[1].requisiteStageRefIds).toEqual([refId]);
  });
});
