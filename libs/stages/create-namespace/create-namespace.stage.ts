import { defineStage, type StageTypes } from '@jibe/domain';
import { z } from 'zod';
import { ANNOTATIONS, LABELS, MANAGED_BY_JIBE } from '../cluster-kit/labels';
import { deployedBy, isManagedByJibe } from '../cluster-kit/manifest';
import { clusterPortOf, clusterTask, kubernetesStageKeys } from '../cluster-kit/stage-support';
import { waitForStableTask } from '../cluster-kit/wait-for-stable.task';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const config = z.looseObject({
  ...kubernetesStageKeys,
  namespace: z
    .string()
    .max(63, 'at most 63 characters (a DNS label)')
    .refine(
      (n) => DNS_LABEL.test(n) || n.includes('${'),
      'must be a DNS label: lower-case letters, digits and -, starting and ending with a letter or digit',
    ),
  labels: z.record(z.string(), z.string()).default({}),
  annotations: z.record(z.string(), z.string()).default({}),
});

const outputs = z.object({ namespace: z.string(), created: z.boolean(), managedByJibe: z.boolean() });

type CreateNamespace = StageTypes<typeof config, z.ZodObject, typeof outputs>;

/**
 * Creates a namespace labelled as Jibe's (so teardown may delete it later) and waits until it is Active. Safe to run
 * twice. A namespace that exists and is not Jibe's is left untouched: labelling it would let Jibe delete it.
 */
export const createNamespaceStage = defineStage({
  type: 'createNamespace',
  description: 'Create a namespace (idempotent), labelled as managed by Jibe.',
  config,
  outputs,
  tasks: [
    clusterTask<CreateNamespace>('createNamespace', async (context) => {
      const c = context.stage.context;
      const port = clusterPortOf(context);
      const existing = await port.get(c.account, { kind: 'Namespace', name: c.namespace });
      if (existing && !isManagedByJibe(existing)) {
        return { status: 'SUCCEEDED', outputs: { namespace: c.namespace, created: false, managedByJibe: false } };
      }
      if (existing?.status?.['phase'] === 'Terminating') {
        // Kubernetes cannot re-create a namespace until the old one is gone; wait for it (the task timeout applies).
        return { status: 'RUNNING', retryAfterMs: 2000 };
      }
      await port.apply(c.account, [
        {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: {
            name: c.namespace,
            labels: {
              ...c.labels,
              [LABELS.managedBy]: MANAGED_BY_JIBE,
              [LABELS.application]: context.execution.application,
            },
            annotations: {
              ...c.annotations,
              [ANNOTATIONS.deployedBy]: deployedBy(context.execution.id, context.stage.id),
            },
          },
        },
      ]);
      return { status: 'SUCCEEDED', outputs: { namespace: c.namespace, created: !existing, managedByJibe: true } };
    }),
    waitForStableTask<CreateNamespace>('waitForNamespace', {
      key: 'namespace.wait',
      objects: ({ stage }) => ({
        account: stage.context.account,
        refs: [{ kind: 'Namespace', name: stage.context.namespace }],
      }),
    }),
  ],
});
