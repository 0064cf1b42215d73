import { describe, expect, it } from 'vitest';
import { startApi } from '../support/api-app';
import { httpClient } from '../support/http-client';

describe('with Redis unreachable', () => {
  it('the api still serves and saves, reports not ready, starts executions that wait in Postgres, and shuts down promptly', async () => {
    const api = await startApi({ REDIS_URL: 'redis://127.0.0.1:1' });
    const http = httpClient(api.url);
    try {
      expect((await http.get('/readyz')).status).toBe(503);
      expect((await http.post('/api/applications', { name: 'shop' })).status).toBe(201);
      const pipeline = await http.post('/api/pipelines', {
        application: 'shop',
        name: 'Waits for Redis',
        stages: [{ refId: '1', type: 'wait', waitTime: 0 }],
      });
      expect(pipeline.status).toBe(201);
      // This request must not wait for Redis, and no clock is needed to see it: BullMQ holds commands while Redis is
      // away, so a send that waited would hang until the test's timeout. Checked by making EngineQueue.send await
      // the send without settlesWithin: the test times out here. A close that hung would fail the same way.
      const execution = await http.post(`/api/pipelines/${pipeline.body.id}/executions`, {});
      // Recorded in Postgres even though its queue message could not be sent: the sweeper sends it once Redis is back.
      expect(execution.status).toBe(201);
      expect(execution.body.status).toBe('NOT_STARTED');
      expect((await http.get(`/api/executions/${execution.body.id}`)).body.status).toBe('NOT_STARTED');
    } finally {
      await api.close();
    }
  });
});
