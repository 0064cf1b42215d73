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
    expect(diffJson({ stages: [a, b] }, { stages: [b] })).toEqual([
      { path: 'stages[refId=1]', op: 'removed', before: a },
    ]);
  });
});
