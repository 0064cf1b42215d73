import { Controller, Get, HttpStatus, Logger, Res } from '@nestjs/common';
import { type Response } from 'express';
import { DataSource } from 'typeorm';
import { RedisHealth } from './redis-health';

const CHECK_TIMEOUT_MS = 2000;

/** What /readyz says about one dependency. It is public, so it says no more than this. */
interface CheckResult {
  ok: boolean;
  error?: 'unreachable' | 'timed out';
  latencyMs: number;
}

/**
 * Liveness answers as long as the process serves HTTP; readiness also needs Postgres and Redis. Readiness is
 * public: a failed check answers a short generic reason and logs the detail (host, port, driver message).
 */
@Controller()
export class HealthController {
  private readonly logger = new Logger('HealthController');

  constructor(
    private readonly dataSource: DataSource,
    private readonly redis: RedisHealth,
  ) {}

  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res({ passthrough: true }) response: Response) {
    const [postgres, redis] = await Promise.all([
      this.check('postgres', () => this.dataSource.query('SELECT 1')),
      this.check('redis', () => this.redis.ping()),
    ]);
    const ready = postgres.ok && redis.ok;
    response.status(ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return { status: ready ? 'ready' : 'not ready', checks: { postgres, redis } };
  }

  private async check(name: string, probe: () => Promise<unknown>): Promise<CheckResult> {
    const started = performance.now();
    const latencyMs = () => Math.round(performance.now() - started);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = Symbol('timed out');
    try {
      const outcome = await Promise.race([
        probe(),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(timedOut), CHECK_TIMEOUT_MS);
        }),
      ]);
      if (outcome === timedOut) {
        this.logger.warn({ check: name, timeoutMs: CHECK_TIMEOUT_MS }, `readiness: ${name} did not answer in time`);
        return { ok: false, error: 'timed out', latencyMs: latencyMs() };
      }
      return { ok: true, latencyMs: latencyMs() };
    } catch (error) {
      this.logger.warn({ check: name, err: error }, `readiness: ${name} is unreachable`);
      return { ok: false, error: 'unreachable', latencyMs: latencyMs() };
    } finally {
      clearTimeout(timer);
    }
  }
}
