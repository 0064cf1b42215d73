import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterOptions, type KubeSim, startKubeSim } from '@jibe/kube-sim';
import { startApi, type RunningApi } from './api-app';
import { httpClient } from './http-client';

/** The api (engine in-process) over its own database, its accounts served by an in-process kube-sim. */
export interface SimApi {
  readonly api: RunningApi;
  readonly sim: KubeSim;
  readonly http: ReturnType<typeof httpClient>;
  close(): Promise<void>;
}

/**
 * Starts one simulated cluster per name and the api. With `accounts`, a config file declares them as `simulated`
 * accounts (each served by the cluster of the same name); without, the api is in local mode (sim-staging and
 * sim-production). `config` adds top-level keys to that file (e.g. `engine:` settings).
 */
export async function startSimApi(options: {
  /** Cluster names, or options (`{ name, timings }`). */
  clusters: readonly (string | ClusterOptions)[];
  accounts?: readonly string[];
  config?: string;
}): Promise<SimApi> {
  const sim = await startKubeSim({
    clusters: options.clusters.map((c) => (typeof c === 'string' ? { name: c } : c)),
  });
  let dir: string | undefined;
  const env: Record<string, string> = {};
  if (options.accounts || options.config) {
    dir = mkdtempSync(join(tmpdir(), 'jibe-e2e-'));
    const accounts = (options.accounts ?? []).map((name) => `  - { name: ${name}, kind: simulated, cluster: ${name} }`);
    const file = join(dir, 'jibe.yaml');
    writeFileSync(file, `${accounts.length > 0 ? `accounts:\n${accounts.join('\n')}\n` : ''}${options.config ?? ''}`);
    env['JIBE_CONFIG_FILE'] = file;
  }
  const api = await startApi(env, { simulatedClusters: { url: (name) => sim.cluster(name).url } });
  return {
    api,
    sim,
    http: httpClient(api.url),
    close: async () => {
      await api.close();
      await sim.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ENDED = new Set(['SUCCEEDED', 'TERMINAL', 'CANCELED', 'STOPPED']);

/**
 * Polls an execution until `until` holds (default: it has ended), failing after `timeoutMs` with where each stage
 * stood, so a stuck run says which stage and why.
 */
export async function waitForExecution(
  http: SimApi['http'],
  id: string,
  until: (execution: any) => boolean = (e) => ENDED.has(e.status),
  timeoutMs = 20_000,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await http.get(`/api/executions/${id}`);
    if (response.status !== 200) throw new Error(`GET execution ${id}: ${response.status}`);
    const execution = response.body;
    if (until(execution)) return execution;
    if (Date.now() > deadline)
      throw new Error(`execution ${id} did not get there in ${timeoutMs} ms: ${describeExecution(execution)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One line per stage: name, status, error or what it waits for. */
export function describeExecution(execution: any): string {
  const stages = (execution.stages as any[]).map((s) => {
    const detail = s.context?.exception?.details?.error ?? s.error?.message ?? s.context?.['jibe.lastTransientError'];
    const waiting = Object.entries(s.context ?? {}).find(([k]) => k.endsWith('.waitingFor'))?.[1];
    return `${s.name}=${s.status}${detail ? ` (${String(detail)})` : ''}${waiting ? ` waiting for ${JSON.stringify(waiting)}` : ''}`;
  });
  return `${execution.status}: ${stages.join('; ')}`;
}

/** Creates the application (if needed) and the pipeline; returns the pipeline id. */
export async function createPipeline(http: SimApi['http'], pipeline: Record<string, unknown>): Promise<string> {
  const application = String(pipeline['application']);
  const existing = await http.get(`/api/applications/${application}`);
  if (existing.status === 404) {
    const created = await http.post('/api/applications', { name: application });
    if (created.status !== 201) throw new Error(`create application: ${JSON.stringify(created.body)}`);
  }
  const response = await http.post('/api/pipelines', pipeline);
  if (response.status !== 201) throw new Error(`create pipeline: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.id as string;
}

/** Starts an execution of a pipeline; returns its id. */
export async function startExecution(http: SimApi['http'], pipelineId: string, body: unknown = {}): Promise<string> {
  const response = await http.post(`/api/pipelines/${pipelineId}/executions`, { type: 'manual', ...(body as object) });
  if (response.status !== 201) throw new Error(`start execution: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.id as string;
}

/** The stage of an execution by name (throws naming the stages there are). */
export function stageNamed(execution: any, name: string): any {
  const stage = (execution.stages as any[]).find((s) => s.name === name);
  if (!stage) throw new Error(`no stage "${name}" in ${(execution.stages as any[]).map((s) => s.name).join(', ')}`);
  return stage;
}

/** A Deployment's replica count in a simulated cluster (undefined when it does not exist). */
export function replicasOf(sim: KubeSim, cluster: string, namespace: string, name: string): number | undefined {
  const object = sim.cluster(cluster).getObject('apps/v1', 'Deployment', namespace, name);
  return object ? (object['spec'] as { replicas?: number }).replicas : undefined;
}
