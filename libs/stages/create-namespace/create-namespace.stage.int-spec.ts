import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { runStage } from '../cluster-kit/testing/stage-harness';
import { createNamespaceStage } from './create-namespace.stage';

describe('createNamespace against the simulator (real adapter over HTTP)', () => {
  let env: StageSimulator;

  beforeAll(async () => {
    env = await startStageSimulator();
  });
  afterAll(async () => {
    await env?.close();
  });

  // Fails if a second run reports `created: true` (checked by making createNamespace always say so once). Jibe's
  // managed-by label is added by the adapter to everything it applies, so this test sees it too.
  it('creates a labelled namespace, idempotently', async () => {
    const name = 'shop-feature-x';
    const config = { account: env.account, namespace: name, labels: { 'jibe.dev/branch': 'feature-x' } };
    const first = await runStage(createNamespaceStage, config, { clusterPort: env.adapter });
    expect(first.status, JSON.stringify(first.error)).toBe('SUCCEEDED');
    expect(first.outputs).toEqual({ namespace: name, created: true, managedByJibe: true });
    // What `kubectl get namespace shop-feature-x -o yaml` shows: Active, with the branch and Jibe's labels.
    const live = await env.user.get('v1', 'Namespace', undefined, name);
    expect(live!.status!['phase']).toBe('Active');
    expect(live!.metadata.labels).toEqual({
      'jibe.dev/branch': 'feature-x',
      'app.kubernetes.io/managed-by': 'jibe',
      'jibe.dev/application': 'shop',
      'kubernetes.io/metadata.name': name,
    });

    const writes = env.mark();
    const second = await runStage(createNamespaceStage, config, { clusterPort: env.adapter });
    expect(second.outputs).toEqual({ namespace: name, created: false, managedByJibe: true });
    // The second run re-applies the same namespace (a no-op for Kubernetes) and creates nothing.
    expect(writes.writes()).toEqual([`apply namespaces ${name}`]);
    expect((await env.user.get('v1', 'Namespace', undefined, name))!.metadata.uid).toBe(live!.metadata.uid);
  });

  // Fails if the managed-by check before applying is removed (the stage labels the namespace as Jibe's, so a
  // later teardown would delete it): checked by making that change once.
  it('leaves a namespace someone else created untouched', async () => {
    const name = 'team-shared';
    await env.user.createNamespace(name);
    const writes = env.mark();
    const run = await runStage(
      createNamespaceStage,
      { account: env.account, namespace: name },
      { clusterPort: env.adapter },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(run.outputs).toEqual({ namespace: name, created: false, managedByJibe: false });
    expect(writes.writes()).toEqual([]);
    expect((await env.user.get('v1', 'Namespace', undefined, name))!.metadata.labels).toEqual({
      'kubernetes.io/metadata.name': name,
    });
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
