import { InvalidRequestError, UnsupportedMediaTypeError, zodIssuesToDetails } from '@jibe/domain';
import { type ArgumentMetadata, StandardSchemaValidationPipe } from '@nestjs/common';
import { z } from 'zod';

/**
 * Nest's standard-schema pipe, with zod schemas checked by zod itself so errors go through the one mapper of the
 * domain lib ({@link zodIssuesToDetails}: "required", unknown keys, JSON paths). A named path or query parameter
 * prefixes its issues' paths, so `GET /api/pipelines/x/history/abc` names `version`, not `(root)`.
 */
export class ZodValidationPipe extends StandardSchemaValidationPipe {
  override async transform<T>(value: T, metadata: ArgumentMetadata): Promise<T> {
    const schema: unknown = metadata.schema;
    if (!(schema instanceof z.ZodType)) return super.transform(value, metadata);
    // express.json() leaves the body undefined when the request is not JSON (no or another content type).
    if (metadata.type === 'body' && value === undefined) {
      throw new UnsupportedMediaTypeError('the request body must be JSON, sent with content-type application/json', [
        { path: '(body)', message: 'not JSON: set content-type: application/json and send a JSON body' },
      ]);
    }
    const result = await schema.safeParseAsync(value, { reportInput: true });
    if (!result.success) {
      const prefix = typeof metadata.data === 'string' ? [metadata.data] : [];
      throw new InvalidRequestError('request is invalid', zodIssuesToDetails(result.error.issues, prefix));
    }
    return result.data as T;
  }
}
