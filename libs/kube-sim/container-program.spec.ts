import { describe, expect, it } from 'vitest';
import { containerProgram } from './container-program';

describe('containerProgram', () => {
  it('interprets the failjob fixture script: one line, then exit 42 after 30 s', () => {
    const p = containerProgram(
      {
        name: 'main',
        command: ['bash'],
        args: [
          '-c',
          `echo "Hello world! I'm going to exit with 42 to simulate a software bug." && sleep 30 && exit 42`,
        ],
      },
      'Never',
      0,
    );
    expect(p).toEqual({
      lines: [{ atMs: 0, text: "Hello world! I'm going to exit with 42 to simulate a software bug." }],
      exit: { atMs: 30_000, code: 42 },
    });
  });

  it('keeps long-running pods running unless they exit with an error', () => {
    expect(containerProgram({ name: 'web', image: 'nginx' }, 'Always', 0).exit).toBeUndefined();
    expect(
      containerProgram({ name: 'web', command: ['sh', '-c', 'echo up; sleep 1; exit 3'] }, 'Always', 0).exit,
    ).toEqual({ atMs: 1000, code: 3 });
    expect(containerProgram({ name: 'job', command: ['perl', '-e', 'print 1'] }, 'Never', 250).exit).toEqual({
      atMs: 250,
      code: 0,
    });
  });

  it('lets annotations or faults decide exit code and output', () => {
    const p = containerProgram({ name: 'job', command: ['./refresh'] }, 'Never', 0, {
      exitCode: 2,
      runMs: 500,
      logs: ['A=1'],
    });
    expect(p).toEqual({ lines: [{ atMs: 0, text: 'A=1' }], exit: { atMs: 500, code: 2 } });
  });
});
