// Benchmark, not a test (issue 4, bench a): what the engine costs per stage on a chain of 100 no-op stages, beside
// the floor measured in the same run: one BullMQ hop (a worker receives a job and adds the next) plus one locked
// Postgres update (SELECT … FOR UPDATE and UPDATE in a transaction). Goal: at most 3× the floor at p50.
// Run: npm run bench -- engine-overhead
import { defineStage } from '@jibe/domain';
import { ExecutionService } from '@jibe/engine';
import { createDataSource } from '@jibe/persistence';
import { stageRegistry } from '@jibe/stages';
import { Queue, Worker } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { type BenchEnvironment, createBenchEnvironment, startBenchEngine } from '../support/bench-engine';
import { createPipeline, percentile, stage } from '../support/engine-fixtures';

const STAGES = 100;
const RUNS = 8;
const WARMUP_RUNS = 1;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function intervals(stamps: readonly number[]): number[] {
  return stamps.slice(1).map((t, i) => t - stamps[i]!);
}

/** The floor: a chain of hops, each a job received by a BullMQ worker that locks and updates a row, then adds the next. */
async function measureFloor(env: BenchEnvironment, hops: number): Promise<number[]> {
  const dataSource = createDataSource(env.databaseUrl);
  await dataSource.initialize();
  await dataSource.query('CREATE TABLE IF NOT EXISTS bench_floor (id text PRIMARY KEY, seq integer NOT NULL)');
  await dataSource.query(`INSERT INTO bench_floor VALUES ('row', 0) ON CONFLICT DO NOTHING`);
  const connection = { url: env.redisUrl, maxRetriesPerRequest: null };
  const queue = new Queue('floor', {
    connection,
    prefix: env.queuePrefix,
    defaultJobOptions: { removeOnComplete: true },
  });
  const stamps: number[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const worker = new Worker(
    'floor',
    async () => {
      stamps.push(performance.now());
      await dataSource.transaction(async (manager) => {
        await manager.query('SELECT seq FROM bench_floor WHERE id = $1 FOR UPDATE', ['row']);
        await manager.query('UPDATE bench_floor SET seq = seq + 1 WHERE id = $1', ['row']);
      });
      if (stamps.length < hops)
        await queue.addBulk([{ name: 'hop', data: {}, opts: { jobId: `hop.${hops}.${stamps.length}` } }]);
      else finish();
    },
    { connection, prefix: env.queuePrefix, concurrency: 32 },
  );
  await worker.waitUntilReady();
  await queue.add('hop', {}, { jobId: `hop.${hops}.0` });
  await finished;
  await worker.close();
  await queue.close();
  await dataSource.destroy();
  return intervals(stamps);
}

async function main(): Promise<void> {
  const env = await createBenchEnvironment();
  try {
    // Floor and engine alternate, run by run, so that both see the same machine (others share its two cores).
    await measureFloor(env, 50);
    const floor: number[] = [];
    const floorRuns: number[] = [];

    const stamps = new Map<string, number[]>();
    const stampStage = defineStage({
      type: 'noop',
      description: 'Bench only: an inline task that records when it ran.',
      config: z.looseObject({}),
      tasks: [
        {
          name: 'noop',
          inline: true,
          run: (context) => {
            const list = stamps.get(context.execution.id) ?? [];
            list.push(performance.now());
            stamps.set(context.execution.id, list);
            return Promise.resolve({ status: 'SUCCEEDED' });
          },
        },
      ],
    });
    const app = await startBenchEngine(env, { consume: true, registry: stageRegistry.with([stampStage]) });
    const executions = app.get(ExecutionService);
    const pipelineId = await createPipeline(
      app,
      Array.from({ length: STAGES }, (_, i) => stage(`s${i + 1}`, 'noop', i === 0 ? [] : [`s${i}`])),
    );
    const engineIntervals: number[] = [];
    const totals: number[] = [];
    for (let run = 0; run < WARMUP_RUNS + RUNS; run++) {
      const began = performance.now();
      const { id } = await executions.start(pipelineId, { user: 'bench' });
      for (let i = 0; ; i++) {
        if (i > 3000) throw new Error(`execution ${id} did not finish within 60 s`);
        const view = await executions.get(id);
        if (view.status === 'SUCCEEDED') break;
        if (view.status !== 'RUNNING' && view.status !== 'NOT_STARTED')
          throw new Error(`execution ${id} ended ${view.status}`);
        await sleep(20);
      }
      const runStamps = stamps.get(id) ?? [];
      if (runStamps.length !== STAGES) throw new Error(`expected ${STAGES} no-op runs, saw ${runStamps.length}`);
      if (run < WARMUP_RUNS) continue;
      engineIntervals.push(...intervals(runStamps));
      totals.push(performance.now() - began);
      const hops = await measureFloor(env, STAGES);
      floor.push(...hops);
      floorRuns.push(percentile(hops, 50));
    }
    await app.close();

    const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const floorP50 = percentile(floor, 50);
    const engineP50 = percentile(engineIntervals, 50);
    out(`chain of ${STAGES} no-op stages, ${RUNS} runs (${engineIntervals.length} stage-to-stage intervals)`);
    out(
      `floor (BullMQ hop + locked UPDATE): p50 ${fmt(floorP50)}  p99 ${fmt(percentile(floor, 99))}  mean ${fmt(mean(floor))}` +
        `  (p50 of each run: ${floorRuns.map(fmt).join(', ')})`,
    );
    out(
      `engine per stage:                  p50 ${fmt(engineP50)}  p99 ${fmt(percentile(engineIntervals, 99))}  mean ${fmt(mean(engineIntervals))}`,
    );
    out(`whole execution of ${STAGES} stages: p50 ${fmt(percentile(totals, 50))}`);
    const ratio = engineP50 / floorP50;
    out(`ratio at p50: ${ratio.toFixed(2)}× the floor (goal ≤ 3×) ${ratio <= 3 ? 'MET' : 'MISSED'}`);
    out(`ratio at p99: ${(percentile(engineIntervals, 99) / percentile(floor, 99)).toFixed(2)}×`);
  } finally {
    await env.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
