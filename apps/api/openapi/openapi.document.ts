import { z } from 'zod';
import { applicationView, createApplicationBody, updateApplicationBody } from '../applications/applications.schemas';
import {
  cancelBody,
  executionViewSchema,
  judgmentBody,
  listExecutionsQuery,
  startExecutionBody,
} from '../executions/executions.schemas';
import { pageQuery } from '../http/common.schemas';
import {
  deleteQuery,
  diffQuery,
  listPipelinesQuery,
  pipelineDiff,
  pipelineView,
  pipelineVersionSummary,
  revertBody,
  updatePipelineBody,
} from '../pipelines/pipelines.schemas';
import { stageTypeView } from '../stage-types/stage-types.schemas';
import { pipelineSchema } from '@jibe/domain';

type Method = 'get' | 'post' | 'put' | 'delete';

/** One documented route. The controllers use the same zod schemas, so the document cannot drift from the checks. */
export interface ApiRoute {
  readonly method: Method;
  readonly path: string;
  readonly summary: string;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  readonly response?: z.ZodType;
  readonly status?: number;
}

const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })),
    errorId: z.string().optional(),
  }),
});
const page = (item: z.ZodType) => z.object({ items: z.array(item), nextCursor: z.string().optional() });

/** Every route the api serves; a test checks this list against the routes Nest actually registered. */
export const apiRoutes: readonly ApiRoute[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness', response: z.object({ status: z.literal('ok') }) },
  { method: 'get', path: '/readyz', summary: 'Readiness: Postgres and Redis answer' },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics (text exposition format)' },
  { method: 'get', path: '/api/docs', summary: 'This OpenAPI document' },
  {
    method: 'get',
    path: '/api/applications',
    summary: 'List applications',
    query: pageQuery,
    response: page(applicationView),
  },
  {
    method: 'post',
    path: '/api/applications',
    summary: 'Create an application',
    body: createApplicationBody,
    response: applicationView,
    status: 201,
  },
  { method: 'get', path: '/api/applications/{name}', summary: 'Read an application', response: applicationView },
  {
    method: 'put',
    path: '/api/applications/{name}',
    summary: 'Update an application',
    body: updateApplicationBody,
    response: applicationView,
  },
  {
    method: 'delete',
    path: '/api/applications/{name}',
    summary: 'Delete an application that has no pipelines',
    status: 204,
  },
  {
    method: 'get',
    path: '/api/pipelines',
    summary: 'List pipelines, optionally of one application',
    query: listPipelinesQuery,
    response: page(pipelineView),
  },
  {
    method: 'post',
    path: '/api/pipelines',
    summary: 'Create a pipeline (Spinnaker JSON)',
    body: pipelineSchema,
    response: pipelineView,
    status: 201,
  },
  { method: 'get', path: '/api/pipelines/{id}', summary: 'Read a pipeline', response: pipelineView },
  {
    method: 'put',
    path: '/api/pipelines/{id}',
    summary: 'Save a new version of a pipeline',
    body: pipelineSchema.extend(updatePipelineBody.shape),
    response: pipelineView,
  },
  {
    method: 'delete',
    path: '/api/pipelines/{id}',
    summary: 'Delete a pipeline and its history',
    query: deleteQuery,
    status: 204,
  },
  {
    method: 'get',
    path: '/api/pipelines/{id}/history',
    summary: 'Versions of a pipeline, newest first',
    response: z.object({ items: z.array(pipelineVersionSummary) }),
  },
  {
    method: 'get',
    path: '/api/pipelines/{id}/history/{version}',
    summary: 'One version of a pipeline',
    response: pipelineView,
  },
  {
    method: 'get',
    path: '/api/pipelines/{id}/diff',
    summary: 'Differences between two versions',
    query: diffQuery,
    response: pipelineDiff,
  },
  {
    method: 'post',
    path: '/api/pipelines/{id}/revert',
    summary: 'Make an old version current again (as a new version), based on the current version you read',
    body: revertBody,
    response: pipelineView,
    status: 201,
  },
  {
    method: 'post',
    path: '/api/pipelines/{id}/executions',
    summary: 'Start an execution (a trigger: type, user, parameters, artifacts)',
    body: startExecutionBody,
    response: executionViewSchema,
    status: 201,
  },
  {
    method: 'get',
    path: '/api/executions',
    summary: 'List executions by pipeline, application and status, newest first',
    query: listExecutionsQuery,
    response: page(executionViewSchema),
  },
  { method: 'get', path: '/api/executions/{id}', summary: 'Read an execution', response: executionViewSchema },
  {
    method: 'post',
    path: '/api/executions/{id}/cancel',
    summary: 'Cancel an execution, with a reason',
    body: cancelBody,
    response: executionViewSchema,
  },
  {
    method: 'post',
    path: '/api/executions/{id}/pause',
    summary: 'Pause a running execution',
    response: executionViewSchema,
  },
  {
    method: 'post',
    path: '/api/executions/{id}/resume',
    summary: 'Resume a paused execution',
    response: executionViewSchema,
  },
  {
    method: 'post',
    path: '/api/executions/{id}/stages/{stageId}/restart',
    summary: 'Run a finished stage and everything downstream of it again',
    response: executionViewSchema,
  },
  {
    method: 'post',
    path: '/api/executions/{id}/stages/{stageId}/skip',
    summary: 'Skip a running or waiting stage',
    response: executionViewSchema,
  },
  {
    method: 'post',
    path: '/api/executions/{id}/stages/{stageId}/judgment',
    summary: 'Continue or stop at a manual judgment',
    body: judgmentBody,
    response: executionViewSchema,
  },
  { method: 'get', path: '/api/accounts', summary: 'Kubernetes accounts and whether each cluster answers now' },
  {
    method: 'get',
    path: '/api/stage-types',
    summary: 'Every stage type: its description and the JSON Schema of its config',
    response: z.object({ items: z.array(stageTypeView) }),
  },
  {
    method: 'get',
    path: '/api/stage-types/{type}',
    summary: 'One stage type: its description and the JSON Schema of its config',
    response: stageTypeView,
  },
  {
    method: 'get',
    path: '/api/executions/{id}/events',
    summary: 'Server-sent events: the execution after every change, until it ends',
  },
];

/** Builds the OpenAPI 3.1 document from {@link apiRoutes}. */
export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of apiRoutes) {
    const parameters = [
      ...[...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...Object.entries(route.query?.shape ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: !(schema as z.ZodType).safeParse(undefined).success,
        schema: toSchema(schema as z.ZodType, 'input'),
      })),
    ];
    const status = String(route.status ?? 200);
    paths[route.path] = {
      ...paths[route.path],
      [route.method]: {
        summary: route.summary,
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(route.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: toSchema(route.body, 'input') } },
              },
            }
          : {}),
        responses: {
          [status]: {
            description: status === '204' ? 'No content' : 'OK',
            ...(route.response
              ? { content: { 'application/json': { schema: toSchema(route.response, 'output') } } }
              : {}),
          },
          default: {
            description: 'Error',
            content: { 'application/json': { schema: toSchema(errorSchema, 'output') } },
          },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Jibe', version, description: 'Pipelines of deployment stages across Kubernetes clusters.' },
    paths,
  };
}

function toSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });
}
