import { MetricsService } from '@jibe/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api-app';

let api: RunningApi;

beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api?.close();
});

describe('GET /metrics', () => {
  // Fails if MetricsController is left out of ApiModule (404), or serves a registry other than the engine's (the
  // count below stays 0): checked by removing it from the controllers, and by answering `new Registry().metrics()`.
  it("serves the engine's counters in Prometheus' text format, outside /api", async () => {
    const before = await fetch(new URL('/metrics', api.url));
    expect(before.status).toBe(200);
    expect(before.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await before.text();
    expect(text).toContain('# TYPE jibe_task_lease_lost_total counter\n');
    expect(text).toContain('jibe_task_lease_lost_total{reason="taken_over"} 0\n');
    expect(text).toContain('jibe_task_lease_lost_total{reason="stage_changed"} 0\n');
    expect(text).toContain('jibe_task_lease_renewal_errors_total 0\n');

    // What the worker role in this process counts is what a scrape reads.
    api.app.get(MetricsService).taskLeaseLost.inc({ reason: 'taken_over' });
    const after = await (await fetch(new URL('/metrics', api.url))).text();
    expect(after).toContain('jibe_task_lease_lost_total{reason="taken_over"} 1\n');

    expect((await fetch(new URL('/api/metrics', api.url))).status).toBe(404);
  });
});
