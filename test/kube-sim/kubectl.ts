import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type KubeSim } from '@jibe/kube-sim';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunningKubectl {
  /** Everything printed to stdout so far. */
  output(): string;
  /** Resolves when stdout contains `text` (or rejects after `timeoutMs`). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  done: Promise<KubectlResult>;
  kill(): void;
}

/**
 * Runs the real `/usr/bin/kubectl` (Google's dispatcher, which picks the kubectl matching the server's minor) with a
 * kubeconfig the simulator wrote, in a private temp dir so discovery caches never leak between clusters or runs.
 */
export class Kubectl {
  private constructor(
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(sim: KubeSim, context?: string): Promise<Kubectl> {
    const dir = await mkdtemp(join(tmpdir(), 'kube-sim-kubectl-'));
    const kubeconfig = await sim.writeKubeconfig(join(dir, 'kubeconfig'), context);
    return new Kubectl(dir, {
      PATH: process.env.PATH,
      HOME: dir,
      KUBECONFIG: kubeconfig,
      KUBECACHEDIR: join(dir, 'cache'),
    });
  }

  async file(name: string, content: string): Promise<string> {
    const path = join(this.dir, name);
    await writeFile(path, content);
    return path;
  }

  start(args: string[]): RunningKubectl {
    const child = spawn('/usr/bin/kubectl', args, { env: this.env, cwd: this.dir });
    let stdout = '';
    let stderr = '';
    const waiters: (() => void)[] = [];
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      for (const w of waiters.splice(0)) w();
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const done = new Promise<KubectlResult>((resolve) =>
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })),
    );
    const matches = (text: string | RegExp): boolean =>
      typeof text === 'string' ? stdout.includes(text) : text.test(stdout);
    return {
      output: () => stdout,
      done,
      kill: () => child.kill('SIGTERM'),
      waitFor: (text, timeoutMs = 10_000) =>
        new Promise((resolve, reject) => {
          const deadline = setTimeout(
            () => reject(new Error(`kubectl ${args.join(' ')}: no ${String(text)} in:\n${stdout}\n${stderr}`)),
            timeoutMs,
          );
          const check = (): void => {
            if (matches(text)) {
              clearTimeout(deadline);
              resolve(stdout);
            } else waiters.push(check);
          };
          check();
        }),
    };
  }

  run(...args: string[]): Promise<KubectlResult> {
    return this.start(args).done;
  }

  /** Runs and fails the test with kubectl's own output when the exit code is not 0. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.run(...args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The fixture manifests (test/fixtures/manifests; JIBE_FIXTURES_DIR overrides). */
export const FIXTURES = process.env.JIBE_FIXTURES_DIR ?? resolve(__dirname, '../fixtures/manifests');
