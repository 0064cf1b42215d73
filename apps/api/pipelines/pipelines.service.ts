import { JIBE_CONFIG, type JibeConfig } from '@jibe/config';
import {
  diffJson,
  InvalidRequestError,
  type PipelineConfig,
  SERVER_OWNED_PIPELINE_KEYS,
  validatePipeline,
  ValidationError,
} from '@jibe/domain';
import { ApplicationRepository, type PipelineEntity, PipelineRepository } from '@jibe/persistence';
import { stageRegistry } from '@jibe/stages';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { PIPELINE_ID } from './pipelines.schemas';

/** The pipeline store: every save is validated as a whole and becomes a new version. */
@Injectable()
export class PipelinesService {
  constructor(
    private readonly pipelines: PipelineRepository,
    private readonly applications: ApplicationRepository,
    @Inject(JIBE_CONFIG) private readonly config: JibeConfig,
  ) {}

  async create(body: Record<string, unknown>, actor: string) {
    const id = body['id'] === undefined ? randomUUID() : body['id'];
    if (typeof id !== 'string' || !PIPELINE_ID.test(id)) {
      throw new ValidationError('pipeline is invalid: 1 problem', [
        { path: 'id', message: 'letters, digits, ".", "_" and "-" (at most 128), or left out to get a UUID' },
      ]);
    }
    const pipeline = await this.validate(body);
    return toView(await this.pipelines.create(id, toWrite(pipeline), actor));
  }

  async get(id: string) {
    return toView(await this.pipelines.get(id));
  }

  async list(query: { application?: string; limit: number; cursor?: string }) {
    const page = await this.pipelines.list(query);
    return { items: page.items.map(toView), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  async update(id: string, body: Record<string, unknown> & { version: number }, actor: string) {
    if (body['id'] !== undefined && body['id'] !== id) {
      throw new InvalidRequestError('the body is for another pipeline', [
        { path: 'id', message: `must be "${id}" or left out` },
      ]);
    }
    const pipeline = await this.validate(body);
    return toView(await this.pipelines.update(id, body.version, toWrite(pipeline), actor));
  }

  async delete(id: string, expectedVersion?: number): Promise<void> {
    await this.pipelines.delete(id, expectedVersion);
  }

  async history(id: string) {
    const versions = await this.pipelines.history(id);
    return {
      items: versions.map((v) => ({
        version: v.version,
        name: v.name,
        revertedFrom: v.revertedFrom,
        createTs: String(v.createdAt.getTime()),
        createdBy: v.createdBy,
      })),
    };
  }

  async getVersion(id: string, version: number) {
    const row = await this.pipelines.getVersion(id, version);
    return {
      ...row.config,
      id,
      version: row.version,
      createTs: String(row.createdAt.getTime()),
      createdBy: row.createdBy,
    };
  }

  async diff(id: string, from: number, to: number) {
    const [before, after] = await Promise.all([this.pipelines.getVersion(id, from), this.pipelines.getVersion(id, to)]);
    return { from, to, changes: diffJson(before.config, after.config) };
  }

  /**
   * Makes an old version current again, as a new version (history only grows). The old JSON is validated against
   * today's stage types, so a revert cannot bring back a pipeline that no longer runs. Like an update it is based
   * on the version the caller read (`expectedVersion`): if someone saved since, it is a 409 and nothing is written.
   */
  async revert(id: string, version: number, expectedVersion: number, actor: string) {
    const target = await this.pipelines.getVersion(id, version);
    const pipeline = await this.validate(target.config).catch((error: unknown) => {
      if (error instanceof ValidationError) {
        throw new ValidationError(`version ${version} is no longer valid and cannot be restored`, error.details);
      }
      throw error;
    });
    return toView(await this.pipelines.update(id, expectedVersion, toWrite(pipeline), actor, version));
  }

  private async validate(body: Record<string, unknown>): Promise<PipelineConfig> {
    const withoutServerKeys = Object.fromEntries(
      Object.entries(body).filter(([key]) => !(SERVER_OWNED_PIPELINE_KEYS as readonly string[]).includes(key)),
    );
    const pipeline = validatePipeline(withoutServerKeys, {
      registry: stageRegistry,
      maxStages: this.config.pipelines.maxStages,
    });
    if (!(await this.applications.exists(pipeline.application))) {
      throw new ValidationError('pipeline is invalid: 1 problem', [
        { path: 'application', message: `no application named "${pipeline.application}"; create it first` },
      ]);
    }
    return pipeline;
  }
}

function toWrite(pipeline: PipelineConfig) {
  return { application: pipeline.application, name: pipeline.name, config: pipeline as Record<string, unknown> };
}

function toView(row: PipelineEntity) {
  return {
    ...row.config,
    id: row.id,
    application: row.application,
    name: row.name,
    version: row.version,
    createTs: String(row.createdAt.getTime()),
    updateTs: String(row.updatedAt.getTime()),
    lastModifiedBy: row.updatedBy,
  };
}
