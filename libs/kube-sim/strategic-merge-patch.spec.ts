import { describe, expect, it } from 'vitest';
import { applyJsonPatch } from './json-patch';
import { applyMergePatch } from './merge-patch';
import { applyStrategicMergePatch } from './strategic-merge-patch';

const deployment = {
  metadata: { name: 'web', finalizers: ['a'] },
  spec: {
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
    template: {
      spec: {
        containers: [
          { name: 'web', image: 'web:1', env: [{ name: 'A', value: '1' }], ports: [{ containerPort: 80 }] },
          { name: 'log', image: 'log:1' },
        ],
        tolerations: [{ key: 'x' }],
      },
    },
  },
};

describe('strategic merge patch', () => {
  it('merges containers by name and env by name, keeping the rest, as kubectl apply relies on', () => {
    const out = applyStrategicMergePatch(
      deployment,
      {
        spec: {
          template: {
            spec: {
              $setElementOrder: undefined,
              '$setElementOrder/containers': [{ name: 'log' }, { name: 'web' }],
              containers: [{ name: 'web', image: 'web:2', env: [{ name: 'B', value: '2' }] }],
            },
          },
        },
      },
      'Deployment',
    );
    expect(out.spec.template.spec.containers).toEqual([
      { name: 'log', image: 'log:1' },
      {
        name: 'web',
        image: 'web:2',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
        ports: [{ containerPort: 80 }],
      },
    ]);
    expect(out.spec.template.spec.tolerations).toEqual([{ key: 'x' }]);
  });

  it('honours $patch delete, $patch replace, $retainKeys, null and $deleteFromPrimitiveList', () => {
    const out = applyStrategicMergePatch(
      deployment,
      {
        metadata: { '$deleteFromPrimitiveList/finalizers': ['a'], finalizers: ['b'] },
        spec: {
          strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null },
          template: { spec: { containers: [{ name: 'log', $patch: 'delete' }], tolerations: [{ key: 'y' }] } },
        },
      },
      'Deployment',
    );
    expect(out.metadata.finalizers).toEqual(['b']);
    expect(out.spec.strategy).toEqual({ type: 'Recreate' });
    expect(out.spec.template.spec.containers.map((c) => c.name)).toEqual(['web']);
    expect(out.spec.template.spec.tolerations).toEqual([{ key: 'y' }]);
    const replaced = applyStrategicMergePatch(
      deployment,
      { spec: { template: { spec: { $patch: 'replace', containers: [{ name: 'only' }] } } } },
      'Deployment',
    );
    expect(replaced.spec.template.spec).toEqual({ containers: [{ name: 'only' }] });
  });

  it('merges Service ports by port but replaces other lists', () => {
    const svc = { spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443 }] } };
    const out = applyStrategicMergePatch(svc, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }, 'Service');
    expect(out.spec.ports).toEqual([{ port: 80, targetPort: 9090 }, { port: 443 }]);
  });
});

describe('JSON patch and merge patch', () => {
  it('applies RFC 6902 operations and fails a failed test with 422', () => {
    const out = applyJsonPatch({ a: [1, 2], b: { c: 1 } }, [
      { op: 'add', path: '/a/-', value: 3 },
      { op: 'replace', path: '/b/c', value: 2 },
      { op: 'move', from: '/b', path: '/d' },
      { op: 'test', path: '/d/c', value: 2 },
    ]);
    expect(out).toEqual({ a: [1, 2, 3], d: { c: 2 } });
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }])).toThrow(
      expect.objectContaining({ code: 422 }),
    );
    expect(() => applyJsonPatch({ a: 1 }, { a: 2 })).toThrow(/cannot unmarshal object/);
  });

  it('applies RFC 7386: objects merge, null deletes, lists replace', () => {
    expect(applyMergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] })).toEqual({
      a: { c: 2, d: 3 },
      l: [3],
    });
  });
});
