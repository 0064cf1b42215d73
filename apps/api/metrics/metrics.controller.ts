import { MetricsService } from '@jibe/engine';
import { Controller, Get, Res } from '@nestjs/common';
import { type Response } from 'express';

/**
 * Prometheus' scrape endpoint, beside the probes and outside `/api`: plain text in the exposition format, for a
 * scraper rather than for people. In the `api` role it serves the api process's metrics; the engine's task
 * metrics count in the process that runs tasks (this one in local mode).
 */
@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get('metrics')
  async metricsText(@Res({ passthrough: true }) response: Response): Promise<string> {
    const { contentType, body } = await this.metrics.exposition();
    response.type(contentType);
    return body;
  }
}
