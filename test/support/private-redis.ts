import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * A redis-server of one test's own, which the test may kill and start again on the same port. The shared Redis on
 * 6379 is never stopped: other test files use it. Like a real Redis without persistence, a restarted one is empty.
 */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILLs the server (no shutdown, no save) and waits until the process is gone. */
  kill(): Promise<void>;
  /** Starts the server again on the same port, empty; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Kills the server if it runs; for afterAll. */
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(port);
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: async () => {
      await kill();
      child = await launch(port);
    },
    stop: kill,
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port for redis-server');
  return address.port;
}

/** Starts redis-server in the foreground and resolves when its log says it accepts connections. */
async function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) {
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`redis-server on port ${port} exited (${code ?? signal}) before it was ready:\n${log}`)),
    );
  });
  // Nobody reads its log from here on; keep the pipes drained so it never blocks on a full one.
  child.stdout.resume();
  child.stderr.resume();
  return child;
}
