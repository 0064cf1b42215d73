import { afterAll, it } from 'vitest';

afterAll(() => {
  throw new Error('teardown broke');
});
it('passes before the teardown', () => undefined);
