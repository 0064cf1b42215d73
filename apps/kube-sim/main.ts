import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startKubeSim } from '@jibe/kube-sim';
import { z } from 'zod';

const USAGE = `Usage: kube-sim [--cluster NAME[:PORT]]... [--kubeconfig PATH] [--speed N] [--minor 32]

Serves one simulated Kubernetes cluster per --cluster (default: sim-staging and sim-production), each on its own
port (0 or no port = any free port), and writes a kubeconfig with one context per cluster.
`;

const clusterArg = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(:\d{1,5})?$/, 'expected NAME or NAME:PORT')
  .transform((s) => {
    const [name = '', port] = s.split(':');
    return { name, port: port === undefined ? 0 : Number(port) };
  });

const argsSchema = z.object({
  cluster: z.array(clusterArg).default(['sim-staging', 'sim-production'].map((name) => ({ name, port: 0 }))),
  kubeconfig: z.string().default('kube-sim.kubeconfig'),
  speed: z.coerce.number().positive().default(1),
  minor: z.string().regex(/^\d+$/).default('32'),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cluster: { type: 'string', multiple: true },
      kubeconfig: { type: 'string' },
      speed: { type: 'string' },
      minor: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(
      `${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n')}\n\n${USAGE}`,
    );
    process.exitCode = 2;
    return;
  }
  const args = parsed.data;
  const kubeconfigPath = resolve(args.kubeconfig);
  const sim = await startKubeSim({
    clusters: args.cluster.map((c) => ({ name: c.name, port: c.port, speed: args.speed, kubernetesMinor: args.minor })),
    kubeconfigPath,
  });
  for (const c of sim.clusters) process.stdout.write(`kube-sim: cluster ${c.name} listening on ${c.url}\n`);
  process.stdout.write(`kube-sim: kubeconfig written to ${kubeconfigPath}\n  export KUBECONFIG=${kubeconfigPath}\n`);
  const shutdown = (): void => {
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`kube-sim: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
