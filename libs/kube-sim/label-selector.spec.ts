import { describe, expect, it } from 'vitest';
import { formatSelector, matchesSelector, parseLabelSelector, selectorFromLabelSelector } from './label-selector';

describe('label selectors', () => {
  it('parses and matches the full query grammar', () => {
    const sel = parseLabelSelector('app=web,tier!=db,env in (prod, staging),track notin (canary),owner,!legacy');
    expect(matchesSelector(sel, { app: 'web', tier: 'front', env: 'prod', owner: 'x' })).toBe(true);
    expect(matchesSelector(sel, { app: 'web', tier: 'db', env: 'prod', owner: 'x' })).toBe(false);
    expect(matchesSelector(sel, { app: 'web', env: 'dev', owner: 'x' })).toBe(false);
    expect(matchesSelector(sel, { app: 'web', env: 'prod', owner: 'x', track: 'canary' })).toBe(false);
    expect(matchesSelector(sel, { app: 'web', env: 'prod', owner: 'x', legacy: '' })).toBe(false);
    expect(matchesSelector(parseLabelSelector('app==web'), { app: 'web' })).toBe(true);
    expect(() => parseLabelSelector('a in b')).toThrow(/unable to parse requirement/);
  });

  it('converts matchExpressions the way kubectl does', () => {
    const sel = selectorFromLabelSelector({
      matchLabels: { app: 'web' },
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }],
    });
    expect(formatSelector(sel)).toBe('app=web,tier in (a,b)');
  });
});
