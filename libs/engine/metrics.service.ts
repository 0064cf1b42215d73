import { Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

/**
 * Why a worker no longer holds the lease of a task it is running: `taken_over` when the stage runs the same task
 * under a newer lease (the lease ran out and the sweeper handed the task to another worker), `stage_changed` when
 * the stage no longer runs the task at all (canceled, skipped, restarted, or finished by whoever took it over).
 */
export const LEASE_LOST_REASONS = ['taken_over', 'stage_changed'] as const;
export type LeaseLostReason = (typeof LEASE_LOST_REASONS)[number];

/**
 * This process's Prometheus metrics. Each Nest application gets its own registry rather than prom-client's global
 * one, so several applications in one process (tests, local mode's api + worker) never register a name twice.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  /** Task runs whose lease was gone when the worker looked (a renewal, or the commit of the result). */
  readonly taskLeaseLost = new Counter({
    name: 'jibe_task_lease_lost_total',
    help: 'Task runs that lost their lease before their result was recorded; the result of such a run is discarded',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Lease renewals that failed with an error; the lease may still hold, and the next renewal tries again. */
  readonly taskLeaseRenewalErrors = new Counter({
    name: 'jibe_task_lease_renewal_errors_total',
    help: 'Task lease renewals that failed with an error (for example Postgres unreachable)',
    registers: [this.registry],
  });

  constructor() {
    // Every series exists from the start at 0, so a rate over the first increment is not lost to the scraper.
    for (const reason of LEASE_LOST_REASONS) this.taskLeaseLost.inc({ reason }, 0);
  }

  /** The registry in Prometheus' text format, with the content type to serve it under. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
