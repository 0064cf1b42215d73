import { describe, expect, it } from 'vitest';
import { InMemoryCluster } from '../kubernetes/testing/in-memory-cluster';
import { runStage } from '../kubernetes/testing/stage-harness';
import { createNamespaceStage } from './create-namespace.stage';

describe('createNamespace', () => {
  it('creates a labelled namespace, idempotently', async () => {
    const cluster = new InMemoryCluster();
    const config = { account: 'k', namespace: 'shop-feature-x', labels: { 'jibe.dev/branch': 'feature-x' } };
    const first = await runStage(createNamespaceStage, config, { cluster });
    expect(first.outputs).toEqual({ namespace: 'shop-feature-x', created: true, managedByJibe: true });
    expect(cluster.find('k', 'Namespace', 'shop-feature-x')!.metadata.labels).toEqual({
      'jibe.dev/branch': 'feature-x',
      'app.kubernetes.io/managed-by': 'jibe',
      'jibe.dev/application': 'shop',
    });
    const second = await runStage(createNamespaceStage, config, { cluster });
    expect(second.outputs).toMatchObject({ created: false, managedByJibe: true });
    expect(cluster.all('k', 'Namespace')).toHaveLength(1);
  });

  it('leaves a namespace it does not manage untouched', async () => {
    const cluster = new InMemoryCluster();
    cluster.seed('k', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    const run = await runStage(createNamespaceStage, { account: 'k', namespace: 'default' }, { cluster });
    expect(run.outputs).toEqual({ namespace: 'default', created: false, managedByJibe: false });
    expect(cluster.calls).toEqual([]);
  });

  it('rejects a name that is not a DNS label', () => {
    expect(
      createNamespaceStage.config.safeParse({ account: 'k', namespace: 'Feature_X' }).error!.issues[0],
    ).toMatchObject({
      path: ['namespace'],
      message: 'must be a DNS label: lower-case letters, digits and -, starting and ending with a letter or digit',
    });
  });
});
