import { beforeEach, it } from 'vitest';

beforeEach(() => {
  throw new Error('per-test setup broke');
});
it('fails through its beforeEach', () => undefined);
