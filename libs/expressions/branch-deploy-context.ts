import { type ExpressionContext } from './expression-context';

/** Spec material: an execution midway through a branch deploy, shaped as the engine supplies it. */
export function branchDeployContext(): ExpressionContext {
  return {
    trigger: {
      type: 'git',
      source: 'github',
      project: 'acme',
      slug: 'shop',
      branch: 'feature/JIRA-42_New-Checkout',
      hash: '3f2a9c1d',
      user: 'dana@acme.example',
      parameters: { region: 'eu' },
    },
    parameters: { hellotag: 'v2', replicas: '3', deploy: true, 'image-tag': '1.4.0', empty: '' },
    execution: { id: '01HZX9', application: 'shop', name: 'Deploy branch', status: 'RUNNING' },
    stages: [
      {
        id: 'st-bake',
        refId: '1',
        name: 'Bake',
        type: 'bakeManifest',
        status: 'SUCCEEDED',
        context: { namespace: 'shop-feature', outputName: 'shop' },
        outputs: {
          manifests: [
            { kind: 'Service', metadata: { name: 'shop' } },
            { kind: 'Deployment', metadata: { name: 'shop', labels: { app: 'shop' } }, spec: { replicas: 2 } },
          ],
        },
        startTime: 1_700_000_000_000,
        endTime: 1_700_000_005_000,
      },
      {
        id: 'st-approve',
        refId: '2',
        name: 'Approve rollout',
        type: 'manualJudgment',
        status: 'SUCCEEDED',
        context: { judgmentStatus: 'continue', judgmentInput: 'canary' },
        outputs: {},
      },
      {
        id: 'st-validate',
        refId: '3',
        name: 'Validate Staging',
        type: 'runJobManifest',
        status: 'SUCCEEDED',
        context: {},
        outputs: { propertyFileContents: { smoke: 'ok' } },
      },
      {
        id: 'st-deploy',
        refId: '4',
        name: 'Deploy',
        type: 'deployManifest',
        status: 'RUNNING',
        context: { account: 'staging' },
        outputs: {},
      },
    ],
    currentStageId: 'st-deploy',
  };
}
