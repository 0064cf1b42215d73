import { pipelineSchema } from '@jibe/domain';
import { z } from 'zod';
import { pageQuery, storableText, versionNumber, versionText } from '../http/common.schemas';

/** A pipeline as clients send it; the full check (graph, stage configs) happens in the service, with paths. */
export const pipelineBody = z.record(z.string(), z.unknown()).describe('pipeline JSON in Spinnaker format');
export const updatePipelineBody = z.looseObject({
  version: versionNumber.describe('the version you read; a stale one gets 409 and nothing is saved'),
});
export const revertBody = z.object({
  version: versionNumber.describe('the version to restore'),
  expectedVersion: versionNumber.describe('the current version you read; a stale one gets 409 and nothing is saved'),
});
export const deleteQuery = z.object({ version: versionText.optional() });
export const listPipelinesQuery = pageQuery.extend({ application: storableText().min(1).max(63).optional() });
export const diffQuery = z.object({ from: versionText, to: versionText });

/** Spinnaker ids are usually UUIDs, but exported pipelines also carry ids such as "bluegreen". */
export const PIPELINE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const pipelineId = z.string().regex(PIPELINE_ID, 'not a pipeline id');

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
