import { afterAll, beforeAll, describe, it } from 'vitest';

describe('outer', () => {
  describe('with a broken setup', () => {
    beforeAll(() => {
      throw new Error('inner setup broke');
    });
    it('never runs', () => undefined);
  });
  describe('with a broken teardown', () => {
    afterAll(() => {
      throw new Error('inner teardown broke');
    });
    it('passes', () => undefined);
  });
  it('passes at the outer level', () => undefined);
});
