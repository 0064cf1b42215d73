import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api-app';
import { httpClient } from '../support/http-client';

let api: RunningApi;
let http: ReturnType<typeof httpClient>;

async function createPipeline(name: string, stages: unknown[], extra: Record<string, unknown> = {}): Promise<string> {
  const response = await http.post('/api/pipelines', {
    application: 'shop',
    name,
    stages,
    limitConcurrent: false,
    ...extra,
  });
  expect(response.status).toBe(201);
  return response.body.id as string;
}

async function waitUntil(id: string, until: (e: any) => boolean, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const execution = (await http.get(`/api/executions/${id}`)).body;
    if (until(execution)) return execution;
    if (Date.now() > deadline)
      throw new Error(`execution ${id} did not get there: ${JSON.stringify(execution.status)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const ended = (e: any) => ['SUCCEEDED', 'TERMINAL', 'CANCELED'].includes(e.status);

beforeAll(async () => {
  api = await startApi();
  http = httpClient(api.url);
  expect((await http.post('/api/applications', { name: 'shop' })).status).toBe(201);
});
afterAll(async () => {
  await api.close();
});

describe('executions over HTTP', () => {
  it('starts an execution with parameters, judges it, and reads it back in Spinnaker shape', async () => {
    const id = await createPipeline(
      'Deploy with approval',
      [
        { refId: '1', type: 'wait', name: 'Soak', waitTime: '${ parameters.soak }' },
        { refId: '2', type: 'manualJudgment', name: 'Approve', requisiteStageRefIds: ['1'] },
      ],
      {
        parameterConfig: [
          { name: 'soak', default: '0' },
          { name: 'tag', required: true },
        ],
      },
    );
    const missing = await http.post(`/api/pipelines/${id}/executions`, {});
    expect(missing.status).toBe(422);
    expect(missing.body.error.details).toEqual([{ path: 'parameters.tag', message: 'required' }]);

    const spoofed = await http.post(`/api/pipelines/${id}/executions`, {
      parameters: { tag: 'v7' },
      parentExecution: { id: 'someone-elses' },
    });
    expect(spoofed.status).toBe(400);
    expect(spoofed.body.error.details).toEqual([{ path: 'parentExecution', message: 'set by Jibe, not by a client' }]);

    const started = await http.post(`/api/pipelines/${id}/executions`, {
      type: 'manual',
      user: 'ann',
      parameters: { tag: 'v7' },
    });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      type: 'PIPELINE',
      application: 'shop',
      pipelineConfigId: id,
      status: 'NOT_STARTED',
    });
    expect(started.body.trigger).toMatchObject({ type: 'manual', user: 'ann', parameters: { tag: 'v7', soak: '0' } });

    const waiting = await waitUntil(started.body.id, (e) => e.stages[1].status === 'RUNNING');
    expect(waiting.stages[0]).toMatchObject({
      refId: '1',
      status: 'SUCCEEDED',
      tasks: [{ id: '1', name: 'wait', status: 'SUCCEEDED' }],
    });

    const judged = await http.post(`/api/executions/${started.body.id}/stages/${waiting.stages[1].id}/judgment`, {
      judgmentStatus: 'continue',
    });
    expect(judged.status).toBe(200);
    const done = await waitUntil(started.body.id, ended);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stages[1].outputs).toMatchObject({ judgmentStatus: 'continue' });

    const bad = await http.post(`/api/executions/${started.body.id}/stages/${waiting.stages[1].id}/judgment`, {
      judgmentStatus: 'maybe',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('judgmentStatus');
  });

  it('cancels, pauses and resumes over HTTP, and refuses what makes no sense with 409', async () => {
    const id = await createPipeline('Long', [{ refId: '1', type: 'wait', waitTime: 60 }]);
    const started = (await http.post(`/api/pipelines/${id}/executions`, {})).body;
    await waitUntil(started.id, (e) => e.status === 'RUNNING');
    expect((await http.post(`/api/executions/${started.id}/resume`)).status).toBe(409);
    expect((await http.post(`/api/executions/${started.id}/pause`)).body.status).toBe('PAUSED');
    expect((await http.post(`/api/executions/${started.id}/resume`)).body.status).toBe('RUNNING');
    const canceled = await http.post(`/api/executions/${started.id}/cancel`, { reason: 'not today' });
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: 'CANCELED', cancellationReason: 'not today' });
    const again = await http.post(`/api/executions/${started.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('ALREADY_FINISHED');
    expect((await http.get('/api/executions/01NOTANEXECUTION')).status).toBe(404);
  });

  it('lists executions by pipeline, application and status, newest first, with a cursor', async () => {
    const id = await createPipeline('Listed', [{ refId: '1', type: 'wait', waitTime: 0 }]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await http.post(`/api/pipelines/${id}/executions`, {})).body.id);
    for (const e of ids) await waitUntil(e, ended);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await http.get(
        `/api/executions?pipelineId=${id}&status=SUCCEEDED&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((e: { id: string }) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const byApp = await http.get('/api/executions?application=shop&status=CANCELED');
    expect(byApp.body.items.every((e: { status: string }) => e.status === 'CANCELED')).toBe(true);
    const badStatus = await http.get('/api/executions?status=DONE');
    expect(badStatus.status).toBe(400);
  });

  it('streams an execution as server-sent events until it ends', async () => {
    const id = await createPipeline('Streamed', [
      { refId: '1', type: 'wait', waitTime: 1 },
      { refId: '2', type: 'wait', waitTime: 0, requisiteStageRefIds: ['1'] },
    ]);
    const started = (await http.post(`/api/pipelines/${id}/executions`, {})).body;
    const response = await fetch(`${api.url}/api/executions/${started.id}/events`);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await response.text();
    const events = text
      .split('\n\n')
      .filter((chunk) => chunk.includes('data:'))
      .map((chunk) =>
        JSON.parse(
          chunk
            .split('\n')
            .find((line) => line.startsWith('data:'))!
            .slice(5),
        ),
      );
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events[events.length - 1]).toMatchObject({ id: started.id, status: 'SUCCEEDED' });
    expect(events.some((e) => e.stages[0].status === 'RUNNING')).toBe(true);
  });
});
