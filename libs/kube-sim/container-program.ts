import { type Container } from './kube-object';

/** What a fake container does once started: lines it prints (at offsets from start) and how it ends. */
export interface ContainerProgram {
  lines: { atMs: number; text: string }[];
  /** When and how the process exits; undefined for a process that runs until killed. */
  exit?: { atMs: number; code: number };
}

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', '/bin/sh', '/bin/bash', '/usr/bin/env']);

function tokenize(script: string): string[][] {
  const statements: string[][] = [];
  let current: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  const endWord = (): void => {
    if (inWord) current.push(word);
    word = '';
    inWord = false;
  };
  const endStatement = (): void => {
    endWord();
    if (current.length > 0) statements.push(current);
    current = [];
  };
  for (let i = 0; i < script.length; i++) {
    const c = script[i] ?? '';
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < script.length) word += script[++i] ?? '';
      else word += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < script.length) {
      word += script[++i] ?? '';
      inWord = true;
    } else if (c === ';' || c === '\n') endStatement();
    else if ((c === '&' || c === '|') && script[i + 1] === c) {
      endStatement();
      i++;
    } else if (c === ' ' || c === '\t') endWord();
    else {
      word += c;
      inWord = true;
    }
  }
  endStatement();
  return statements;
}

function durationMs(arg: string | undefined): number | undefined {
  if (!arg || arg === 'infinity') return undefined;
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(arg);
  if (!m?.[1]) return 0;
  const unit = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? ''] ?? 1000;
  return Number(m[1]) * unit;
}

/**
 * Interprets the few shell commands test containers use (`echo`, `printf`, `sleep`, `exit`, `true`, `false`,
 * joined by `;`, `&&`, `||`, newlines); anything else is a no-op that succeeds.
 */
export function interpretScript(words: string[][], baseMs: number): ContainerProgram & { explicitExit: boolean } {
  const lines: ContainerProgram['lines'] = [];
  let t = baseMs;
  for (const [cmd = '', ...args] of words) {
    switch (cmd) {
      case 'echo': {
        const printable = args.filter((a) => a !== '-n' && a !== '-e');
        lines.push({ atMs: t, text: printable.join(' ') });
        break;
      }
      case 'printf': {
        const text = (args[0] ?? '').replace(/\\n/g, '\n').replace(/%s/g, () => args[1] ?? '');
        for (const l of text.split('\n').filter((s, i, all) => s.length > 0 || i < all.length - 1))
          lines.push({ atMs: t, text: l });
        break;
      }
      case 'sleep': {
        const ms = durationMs(args[0]);
        if (ms === undefined) return { lines, explicitExit: false };
        t += ms;
        break;
      }
      case 'exit':
        return { lines, exit: { atMs: t, code: Number(args[0] ?? 0) || 0 }, explicitExit: true };
      case 'false':
        return { lines, exit: { atMs: t, code: 1 }, explicitExit: true };
      default:
        break;
    }
  }
  return { lines, exit: { atMs: t, code: 0 }, explicitExit: false };
}

export interface ProgramOverrides {
  logs?: string[];
  exitCode?: number;
  runMs?: number;
}

/**
 * Decides what a container does from its command and args, unless overridden (annotations or faults).
 * Long-running pods (restartPolicy Always) never exit unless the script exits with a non-zero code.
 */
export function containerProgram(
  container: Container,
  restartPolicy: string,
  defaultRunMs: number,
  overrides: ProgramOverrides = {},
): ContainerProgram {
  const argv = [...(container.command ?? []), ...(container.args ?? [])];
  let words: string[][] = [];
  const exe = argv[0]?.split('/').pop() ?? '';
  if (SHELLS.has(argv[0] ?? '') || SHELLS.has(exe)) {
    const c = argv.indexOf('-c');
    words = c >= 0 ? tokenize(argv.slice(c + 1).join(' ')) : [];
  } else if (argv.length > 0) words = [[exe, ...argv.slice(1)]];
  const interpreted = interpretScript(words, 0);
  const runs = restartPolicy !== 'Always';
  let lines = interpreted.lines;
  if (overrides.logs) lines = [...lines, ...overrides.logs.map((text) => ({ atMs: 0, text }))];
  if (overrides.exitCode !== undefined || overrides.runMs !== undefined) {
    const atMs = overrides.runMs ?? Math.max(interpreted.exit?.atMs ?? 0, defaultRunMs);
    const code = overrides.exitCode ?? interpreted.exit?.code ?? 0;
    if (runs || code !== 0) return { lines, exit: { atMs, code } };
    return { lines };
  }
  if (!interpreted.exit) return { lines };
  if (runs)
    return {
      lines,
      exit: {
        atMs: Math.max(interpreted.exit.atMs, interpreted.explicitExit ? 0 : defaultRunMs),
        code: interpreted.exit.code,
      },
    };
  if (interpreted.explicitExit && interpreted.exit.code !== 0) return { lines, exit: interpreted.exit };
  return { lines };
}
