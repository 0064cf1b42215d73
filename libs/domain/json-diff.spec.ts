import { describe, expect, it } from 'vitest';
import { diffJson } from './json-diff';

describe('diffJson', () => {
  it('lists additions, removals and changes with JSON paths', () => {
    expect(
      diffJson(
        { name: 'a', stages: [{ refId: '1', waitTime: 1 }], keep: true, gone: 1 },
        { name: 'b', stages: [{ refId: '1', waitTime: 5 }], keep: true, 'new-key': [1] },
      ),
    ).toEqual([
      { path: 'name', op: 'changed', before: 'a', after: 'b' },
      { path: 'stages[0].waitTime', op: 'changed', before: 1, after: 5 },
      { path: 'gone', op: 'removed', before: 1 },
      { path: "['new-key']", op: 'added', after: [1] },
    ]);
  });

  it('matches stages by refId, so reordering is not a change', () => {
    const a = { refId: '1', type: 'wait', waitTime: 1 };
    const b = { refId: '2', type: 'wait', waitTime: 2 };
    expect(diffJson({ stages: [a, b] }, { stages: [b, a] })).toEqual([]);
    expect(diffJson({ stages: [a, b] }, { stages: [b] })).toEqual([{ path: 'stages[0]', op: 'removed', before: a }]);
  });

  it('names a removed stage by its index in the old version and an added one by its index in the new', () => {
    const a = { refId: '1', type: 'wait', waitTime: 1 };
    const b = { refId: '2', type: 'wait', waitTime: 2 };
    const c = { refId: '3', type: 'wait', waitTime: 3 };
    expect(diffJson({ stages: [a, b] }, { stages: [c, a] })).toEqual([
      { path: 'stages[1]', op: 'removed', before: b },
      { path: 'stages[0]', op: 'added', after: c },
    ]);
  });

  it('sees keys named like Object.prototype members (valueOf, toString, constructor) as added and removed', () => {
    expect(diffJson({ a: 1 }, { a: 1, valueOf: 2, toString: 'x' })).toEqual([
      { path: 'valueOf', op: 'added', after: 2 },
      { path: 'toString', op: 'added', after: 'x' },
    ]);
    expect(diffJson({ hasOwnProperty: true }, {})).toEqual([{ path: 'hasOwnProperty', op: 'removed', before: true }]);
  });

  it("escapes ' and \\ inside bracketed keys, so every path reads back unambiguously", () => {
    expect(diffJson({}, { "it's": 1, 'back\\slash': 2, 'line\nbreak': 3 }).map((c) => c.path)).toEqual([
      "['it\\'s']",
      "['back\\\\slash']",
      "['line\\u000abreak']",
    ]);
  });
});
