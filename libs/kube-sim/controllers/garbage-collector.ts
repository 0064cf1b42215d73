import { type KubeObject } from '../kube-object';
import { type StoreEvent } from '../object-store';
import { type Controller, type ControllerContext } from './controller-context';

/**
 * Deletes dependents whose owners are gone, and finishes Foreground (dependents first) and Orphan (dependents
 * released) deletions by removing the `foregroundDeletion` / `orphan` finalizers.
 */
export class GarbageCollector implements Controller {
  constructor(private readonly ctx: ControllerContext) {}

  onEvent(e: StoreEvent): void {
    const uid = e.object.metadata.uid;
    if (!uid) return;
    if (e.type === 'DELETED') {
      this.ctx.queue.enqueue(`gc-dependents/${uid}`, () => this.ownerGone(uid));
      for (const o of e.object.metadata.ownerReferences ?? [])
        this.ctx.queue.enqueue(`gc-owner/${o.uid}`, () => this.finishOwner(o.uid));
      return;
    }
    const fin = e.object.metadata.finalizers ?? [];
    if (e.object.metadata.deletionTimestamp && (fin.includes('foregroundDeletion') || fin.includes('orphan')))
      this.ctx.queue.enqueue(`gc-owner/${uid}`, () => this.finishOwner(uid));
    if (e.type === 'ADDED' && (e.object.metadata.ownerReferences ?? []).length > 0)
      this.ctx.queue.enqueue(`gc-orphaned/${uid}`, () => this.checkOwnersExist(uid));
  }

  private deleteDependent(
    resource: Parameters<ControllerContext['api']['delete']>[0],
    obj: KubeObject,
    foreground: boolean,
  ): void {
    if (obj.metadata.deletionTimestamp && !foreground) return;
    try {
      this.ctx.api.delete(resource, obj.metadata.namespace, obj.metadata.name ?? '', {
        propagationPolicy: foreground ? 'Foreground' : 'Background',
      });
    } catch {
      // Already gone: another path (namespace termination, a client) deleted it first.
    }
  }

  private ownerGone(uid: string): void {
    for (const { resource, object } of this.ctx.store.dependents(uid)) {
      const remaining = (object.metadata.ownerReferences ?? []).filter((o) => o.uid !== uid);
      if (remaining.some((o) => this.ctx.store.findByUid(o.uid))) {
        this.ctx.api.replace(resource, { ...object, metadata: { ...object.metadata, ownerReferences: remaining } });
      } else this.deleteDependent(resource, object, false);
    }
  }

  private checkOwnersExist(uid: string): void {
    const found = this.ctx.store.findByUid(uid);
    if (!found) return;
    const owners = found.object.metadata.ownerReferences ?? [];
    if (owners.length > 0 && owners.every((o) => !this.ctx.store.findByUid(o.uid)))
      this.deleteDependent(found.resource, found.object, false);
  }

  private finishOwner(uid: string): void {
    const found = this.ctx.store.findByUid(uid);
    if (!found?.object.metadata.deletionTimestamp) return;
    const { resource, object } = found;
    const fin = object.metadata.finalizers ?? [];
    const dependents = this.ctx.store.dependents(uid);
    if (fin.includes('orphan')) {
      for (const d of dependents) {
        const refs = (d.object.metadata.ownerReferences ?? []).filter((o) => o.uid !== uid);
        this.ctx.api.replace(d.resource, {
          ...d.object,
          metadata: { ...d.object.metadata, ownerReferences: refs.length > 0 ? refs : undefined },
        });
      }
      this.removeFinalizer(resource, uid, 'orphan');
      return;
    }
    if (fin.includes('foregroundDeletion')) {
      const blocking = dependents.filter((d) =>
        (d.object.metadata.ownerReferences ?? []).some((o) => o.uid === uid && o.blockOwnerDeletion === true),
      );
      for (const d of dependents) this.deleteDependent(d.resource, d.object, true);
      if (blocking.length === 0) this.removeFinalizer(resource, uid, 'foregroundDeletion');
    }
  }

  private removeFinalizer(
    resource: Parameters<ControllerContext['api']['replace']>[0],
    uid: string,
    finalizer: string,
  ): void {
    const current = this.ctx.store.findByUid(uid)?.object;
    if (!current) return;
    const rest = (current.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    this.ctx.api.replace(resource, {
      ...current,
      metadata: { ...current.metadata, finalizers: rest.length > 0 ? rest : undefined },
    });
  }
}
