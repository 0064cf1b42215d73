import { beforeAll, it } from 'vitest';

beforeAll(() => {
  throw new Error('setup broke');
});
it('never runs', () => undefined);
it('never runs either', () => undefined);
