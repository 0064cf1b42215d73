import { describe, expect, it } from 'vitest';
import { type KubeObject } from './kube-object';
import { leafFields, serverSideApply, toFieldsV1, trackUpdate } from './managed-fields';

const opts = { kind: 'Deployment', apiVersion: 'apps/v1', now: '2026-01-01T00:00:00Z', force: false };

function dep(spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec };
}

describe('server-side apply field ownership', () => {
  it('records fieldsV1 with keyed list elements', () => {
    const fields = leafFields(dep({ template: { spec: { containers: [{ name: 'web', image: 'a' }] } } }), 'Deployment');
    expect(toFieldsV1([...fields.values()].map((l) => l.path))).toEqual({
      'f:spec': {
        'f:template': {
          'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:name': {}, 'f:image': {} } } },
        },
      },
    });
  });

  it('rejects a different value for a field another manager owns, unless forced', () => {
    const first = serverSideApply(undefined, dep({ replicas: 3, paused: false }), { ...opts, manager: 'jibe' });
    expect(() => serverSideApply(first, dep({ replicas: 5 }), { ...opts, manager: 'other' })).toThrow(
      'Apply failed with 1 conflict: conflict with "jibe" using apps/v1: .spec.replicas',
    );
    const shared = serverSideApply(first, dep({ replicas: 3 }), { ...opts, manager: 'other' });
    expect(shared.metadata.managedFields?.map((m) => m.manager)).toEqual(['jibe', 'other']);
    const forced = serverSideApply(first, dep({ replicas: 5 }), { ...opts, manager: 'other', force: true });
    expect((forced.spec as { replicas: number }).replicas).toBe(5);
    expect(JSON.stringify(forced.metadata.managedFields?.find((m) => m.manager === 'jibe')?.fieldsV1)).not.toContain(
      'f:replicas',
    );
  });

  it('removes a field its manager stops applying, unless someone else owns it', () => {
    const first = serverSideApply(undefined, dep({ replicas: 3, paused: true }), { ...opts, manager: 'jibe' });
    const second = serverSideApply(first, dep({ replicas: 3 }), { ...opts, manager: 'jibe' });
    expect(second.spec).toEqual({ replicas: 3 });
    const coOwned = serverSideApply(first, dep({ paused: true }), { ...opts, manager: 'other' });
    const third = serverSideApply(coOwned, dep({ replicas: 3 }), { ...opts, manager: 'jibe' });
    expect(third.spec).toEqual({ replicas: 3, paused: true });
  });

  it('moves ownership of changed fields to the updating manager', () => {
    const applied = serverSideApply(undefined, dep({ replicas: 3 }), { ...opts, manager: 'jibe' });
    const updated = { ...applied, spec: { replicas: 6 } };
    const managed = trackUpdate(applied, updated, {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      now: opts.now,
      manager: 'kubectl',
    });
    expect(managed.map((m) => `${m.manager}/${m.operation}`)).toEqual(['kubectl/Update']);
  });
});
