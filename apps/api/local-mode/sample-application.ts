import { ApplicationRepository, PipelineRepository } from '@jibe/persistence';
import { type INestApplication } from '@nestjs/common';
import { PipelinesService } from '../pipelines/pipelines.service';

const APPLICATION = 'sample';
const PIPELINE_NAME = 'Deploy sample';

const WEB_TEMPLATE = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: sample-web
  labels: { app: sample-web }
spec:
  replicas: {{replicas}}
  selector:
    matchLabels: { app: sample-web }
  template:
    metadata:
      labels: { app: sample-web }
    spec:
      containers:
        - name: web
          image: nginx:{{tag}}
          ports: [{ containerPort: 80 }]
          readinessProbe:
            httpGet: { path: /, port: 80 }
---
apiVersion: v1
kind: Service
metadata:
  name: sample-web
spec:
  selector: { app: sample-web }
  ports: [{ port: 80, targetPort: 80 }]
`;

/**
 * The pipeline local mode seeds: bake (and the namespace) → deploy red/black to sim-staging → scale in the previous version → refresh
 * the staging database (scaling the app down meanwhile). It runs as is against the simulated clusters.
 */
export const samplePipeline = {
  application: APPLICATION,
  name: PIPELINE_NAME,
  description: 'Local mode sample: every kind of Kubernetes stage Jibe has, against the simulated clusters.',
  limitConcurrent: true,
  keepWaitingPipelines: false,
  parameterConfig: [{ name: 'tag', label: 'nginx image tag', default: '1.27', required: true }],
  stages: [
    {
      refId: 'bake',
      type: 'bakeManifest',
      name: 'Bake',
      outputName: 'sample-web',
      templates: [{ name: 'web.yaml', content: WEB_TEMPLATE }],
      values: { tag: '${ parameters.tag }', replicas: 2 },
    },
    {
      refId: 'namespace',
      type: 'createNamespace',
      name: 'Staging namespace',
      account: 'sim-staging',
      namespace: 'sample',
    },
    {
      refId: 'deploy',
      type: 'deployManifest',
      name: 'Deploy to staging',
      requisiteStageRefIds: ['bake', 'namespace'],
      account: 'sim-staging',
      namespace: 'sample',
      source: 'artifact',
      manifestArtifactId: 'sample-web',
      trafficManagement: {
        enabled: true,
        // Old versions stay up after the switch, for an instant rollback, until the scale-in stage below.
        options: { strategy: 'redblack', services: ['service sample-web'], maxVersionsToKeep: 3, scaleDown: false },
      },
    },
    {
      refId: 'scale-in',
      type: 'scaleManifest',
      name: 'Scale in previous versions',
      requisiteStageRefIds: ['deploy'],
      account: 'sim-staging',
      namespace: 'sample',
      labelSelector:
        "jibe.dev/cluster=sample-web,jibe.dev/version!=${ #stage('Deploy to staging').outputs.deployedServerGroups[0].version }",
      replicas: 0,
    },
    {
      refId: 'db-refresh',
      type: 'dbRefresh',
      name: 'Refresh staging database',
      requisiteStageRefIds: ['scale-in'],
      account: 'sim-staging',
      namespace: 'sample',
      source: { type: 'snapshot', snapshot: 'production-nightly' },
      target: { database: 'sample-staging' },
      scaleDown: { labelSelector: 'jibe.dev/cluster=sample-web' },
      jobTemplate: {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'sample-db-refresh' },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'refresh',
                  image: 'postgres:17',
                  command: [
                    'sh',
                    '-c',
                    'echo restoring snapshot; sleep 2; echo TABLES_COPIED=42; echo ROWS_COPIED=12345',
                  ],
                },
              ],
            },
          },
        },
      },
    },
  ],
};

/** Creates the sample application and pipeline unless they exist; returns the pipeline's id and name. */
export async function seedSampleApplication(app: INestApplication): Promise<{ id: string; name: string }> {
  const applications = app.get(ApplicationRepository);
  if (!(await applications.exists(APPLICATION))) {
    await applications.create(
      APPLICATION,
      { email: null, description: 'Sample application of local mode', attributes: {} },
      'local-mode',
    );
  }
  const existing = await app.get(PipelineRepository).list({ application: APPLICATION, limit: 100 });
  const found = existing.items.find((p) => p.name === PIPELINE_NAME);
  if (found) return { id: found.id, name: found.name };
  const created = await app.get(PipelinesService).create(samplePipeline, 'local-mode');
  return { id: created.id, name: created.name };
}
