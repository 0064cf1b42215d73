import { type ApplicationEntity, ApplicationRepository } from '@jibe/persistence';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { type z } from 'zod';
import { ACTOR_ANONYMOUS } from '../http/actor';
import { pageQuery } from '../http/common.schemas';
import { applicationName, createApplicationBody, updateApplicationBody } from './applications.schemas';

const SERVED_KEYS = new Set(['name', 'email', 'description', 'version', 'createTs', 'updateTs', 'lastModifiedBy']);

@Controller('api/applications')
export class ApplicationsController {
  constructor(private readonly applications: ApplicationRepository) {}

  @Post()
  async create(@Body({ schema: createApplicationBody }) body: z.infer<typeof createApplicationBody>) {
    const { name, email, description, ...rest } = body;
    const row = await this.applications.create(
      name,
      { email: email ?? null, description: description ?? null, attributes: attributesOf(rest) },
      ACTOR_ANONYMOUS,
    );
    return toView(row);
  }

  @Get()
  async list(@Query({ schema: pageQuery }) query: z.infer<typeof pageQuery>) {
    const page = await this.applications.list(query.limit, query.cursor);
    return { items: page.items.map(toView), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  @Get(':name')
  async get(@Param('name', { schema: applicationName }) name: string) {
    return toView(await this.applications.get(name));
  }

  @Put(':name')
  async update(
    @Param('name', { schema: applicationName }) name: string,
    @Body({ schema: updateApplicationBody }) body: z.infer<typeof updateApplicationBody>,
  ) {
    const { version, email, description, ...rest } = body;
    const row = await this.applications.update(
      name,
      version,
      { email: email ?? null, description: description ?? null, attributes: attributesOf(rest) },
      ACTOR_ANONYMOUS,
    );
    return toView(row);
  }

  @Delete(':name')
  @HttpCode(204)
  async delete(@Param('name', { schema: applicationName }) name: string): Promise<void> {
    await this.applications.delete(name);
  }
}

function attributesOf(rest: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(rest).filter(([key]) => !SERVED_KEYS.has(key)));
}

function toView(row: ApplicationEntity) {
  return {
    ...row.attributes,
    name: row.name,
    email: row.email,
    description: row.description,
    version: row.version,
    createTs: String(row.createdAt.getTime()),
    updateTs: String(row.updatedAt.getTime()),
    lastModifiedBy: row.updatedBy,
  };
}
