import { pipelineSchema } from '@jibe/domain';
import { z } from 'zod';
import { pageQuery } from '../applications/applications.schemas';

/** A pipeline as clients send it; the full check (graph, stage configs) happens in the service, with paths. */
export const pipelineBody = z.record(z.string(), z.unknown()).describe('pipeline JSON in Spinnaker format');
export const updatePipelineBody = z.looseObject({
  version: z.number().int().positive().describe('the version you read; a stale one gets 409 and nothing is saved'),
});
export const revertBody = z.object({ version: z.number().int().positive().describe('the version to restore') });
export const deleteQuery = z.object({ version: z.coerce.number().int().positive().optional() });
export const listPipelinesQuery = pageQuery.extend({ application: z.string().min(1).max(63).optional() });
export const diffQuery = z.object({ from: z.coerce.number().int().positive(), to: z.coerce.number().int().positive() });
export const pipelineId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'not a pipeline id');
export const versionParam = z.coerce.number().int().positive();

/** What GET returns: the pipeline JSON plus the keys the server owns. */
export const pipelineView = pipelineSchema.extend({
  id: z.string(),
  version: z.number().int(),
  createTs: z.string(),
  updateTs: z.string(),
  lastModifiedBy: z.string(),
});

export const pipelineVersionSummary = z.object({
  version: z.number().int(),
  name: z.string(),
  revertedFrom: z.number().int().nullable(),
  createTs: z.string(),
  createdBy: z.string(),
});

export const pipelineDiff = z.object({
  from: z.number().int(),
  to: z.number().int(),
  changes: z.array(
    z.object({
      path: z.string(),
      op: z.enum(['added', 'removed', 'changed']),
      before: z.unknown(),
      after: z.unknown(),
    }),
  ),
});
