import { JIBE_VERSION } from '@jibe/config';
import { Controller, Get } from '@nestjs/common';
import { buildOpenApiDocument } from './openapi.document';

@Controller('api/docs')
export class OpenApiController {
  private readonly document = buildOpenApiDocument(JIBE_VERSION);

  @Get()
  openApiDocument() {
    return this.document;
  }
}
