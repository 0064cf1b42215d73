import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api-app';
import { httpClient } from '../support/http-client';

let api: RunningApi;
let http: ReturnType<typeof httpClient>;
let admin: Client;

beforeAll(async () => {
  api = await startApi();
  http = httpClient(api.url);
  admin = new Client({ connectionString: api.database.url });
  await admin.connect();
  expect((await http.post('/api/applications', { name: 'shop' })).status).toBe(201);
});
afterAll(async () => {
  await admin.end();
  await api.close();
});

/** Reads server-sent events off a response body as they arrive. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    /** The next event's data, or undefined when the stream ended. */
    async next(): Promise<any> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const chunk = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = chunk.split('\n').find((line) => line.startsWith('data:'));
          if (data) return JSON.parse(data.slice(5));
          continue;
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

async function listenerPids(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'jibe-events' AND datname = current_database()",
  );
  return rows.map((r) => r.pid);
}

describe('execution events over SSE', () => {
  it('keeps streaming after Postgres drops the LISTEN connection, up to the final state', async () => {
    const pipeline = await http.post('/api/pipelines', {
      application: 'shop',
      name: 'Approve me',
      stages: [{ refId: '1', type: 'manualJudgment', name: 'Approve' }],
      limitConcurrent: false,
    });
    expect(pipeline.status).toBe(201);
    const started = (await http.post(`/api/pipelines/${pipeline.body.id}/executions`, {})).body;
    const response = await fetch(`${api.url}/api/executions/${started.id}/events`, {
      signal: AbortSignal.timeout(20_000),
    });
    const events = sseReader(response.body!);
    let view = await events.next();
    while (view.stages[0].status !== 'RUNNING') view = await events.next();

    const [pid] = await listenerPids();
    expect(pid).toBeDefined();
    const { rows } = await admin.query<{ terminated: boolean }>(
      "SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = 'jibe-events' AND datname = current_database()",
    );
    expect(rows).toEqual([{ terminated: true }]);
    // Judged at once, so the execution's last notifications are likely sent while nobody listens.
    const judged = await http.post(`/api/executions/${started.id}/stages/${view.stages[0].id}/judgment`, {
      judgmentStatus: 'continue',
    });
    expect(judged.status).toBe(200);

    let last = view;
    for (let next = await events.next(); next; next = await events.next()) last = next;
    expect(last).toMatchObject({ id: started.id, status: 'SUCCEEDED' });
    const reconnected = await listenerPids();
    expect(reconnected).toHaveLength(1);
    expect(reconnected).not.toContain(pid);
  });
});
