import { it } from 'vitest';

it('leaves an error behind', () => {
  setTimeout(() => {
    throw new Error('thrown after the test');
  }, 0);
});
it('waits for it', async () => {
  await new Promise((resolve) => setTimeout(resolve, 50));
});
