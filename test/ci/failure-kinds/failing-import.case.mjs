import { it } from 'vitest';

throw new Error('import broke');
it('is never collected', () => undefined);
