import { type StoreEvent } from '../object-store';
import { type Controller, type ControllerContext } from './controller-context';

/** Empties a Terminating namespace, then removes it (the `kubernetes` finalizer of the real namespace controller). */
export class NamespaceController implements Controller {
  constructor(private readonly ctx: ControllerContext) {}

  onEvent(e: StoreEvent): void {
    const { types } = this.ctx;
    if (e.resource === types.namespace) {
      if (e.type === 'ADDED')
        this.ctx.queue.enqueue(`namespace-sa/${e.object.metadata.name ?? ''}`, () =>
          this.createDefaultServiceAccount(e.object.metadata.name ?? ''),
        );
      if (e.type !== 'DELETED' && e.object.metadata.deletionTimestamp) this.enqueue(e.object.metadata.name ?? '');
      return;
    }
    const ns = e.object.metadata.namespace;
    if (e.type === 'DELETED' && ns && this.ctx.store.get(types.namespace, undefined, ns)?.metadata.deletionTimestamp)
      this.enqueue(ns);
  }

  private enqueue(ns: string): void {
    this.ctx.queue.enqueue(`namespace/${ns}`, () => this.sync(ns));
  }

  private createDefaultServiceAccount(ns: string): void {
    const sa = this.ctx.registry.mustForKind('v1', 'ServiceAccount');
    if (this.ctx.store.get(sa, ns, 'default') || !this.ctx.store.get(this.ctx.types.namespace, undefined, ns)) return;
    try {
      this.ctx.api.create(sa, ns, { metadata: { name: 'default' } });
    } catch {
      // The namespace went away or is terminating; nothing to do.
    }
  }

  private sync(name: string): void {
    const { store, api, types, registry } = this.ctx;
    const ns = store.get(types.namespace, undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    for (const r of registry.all) {
      if (!r.namespaced) continue;
      for (const o of store.list(r, name)) {
        if (o.metadata.deletionTimestamp) continue;
        try {
          api.delete(r, name, o.metadata.name ?? '', { propagationPolicy: 'Background' });
        } catch {
          // Raced with another deletion; the object is gone either way.
        }
      }
    }
    if (store.countInNamespace(name) === 0) api.removeNow(types.namespace, ns);
  }
}
