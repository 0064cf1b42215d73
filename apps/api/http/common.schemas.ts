import { unstorableTextReason } from '@jibe/domain';
import { z } from 'zod';

/** Versions live in an `integer` column: anything above its maximum could never match and would fail in Postgres. */
export const MAX_VERSION = 2_147_483_647;

/** A version number in a JSON body. */
export const versionNumber = z.number().int().min(1).max(MAX_VERSION);

/** A version number in a path or query string, where every value arrives as text. */
export const versionText = z
  .string()
  .regex(/^[0-9]{1,10}$/, 'a version number')
  .transform(Number)
  .pipe(versionNumber);

/** A string from a path or query that is stored or compared in Postgres, which refuses NUL and lone surrogates. */
export const storableText = () =>
  z.string().superRefine((text, ctx) => {
    const reason = unstorableTextReason(text);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  });

/** `limit` and `cursor` of every listing. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: storableText().max(2048).optional(),
});
