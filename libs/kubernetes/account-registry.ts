import { type AccountConfig, namespaceAllowed } from '@jibe/config';
import { ClusterError } from '@jibe/stages';
import { AccountClient, type SimulatedClusters } from './account-client';
import { type GoogleTokenSource } from './token-source';

/** Dependencies of the registry that tests and local mode replace. */
export interface AccountRegistryOptions {
  /** Bearer tokens for `gke` accounts (default: Google application-default credentials). */
  readonly tokenSource?: GoogleTokenSource;
  /** The in-process clusters serving `simulated` accounts. */
  readonly simulatedClusters?: SimulatedClusters;
  /** Base URL of the GKE API (default `https://container.googleapis.com`). */
  readonly gkeApiUrl?: string;
}

/** Kinds that live outside any namespace. Only a Namespace itself is checked against the allow-list by name. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'APIService',
]);

/** True for kinds that have no namespace. */
export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

/**
 * The configured accounts and their clients. Nothing is read, resolved or connected at start-up: a client is
 * built on an account's first use (so 2,000 accounts cost a Map), and a failed build is not remembered, so fixing
 * a kubeconfig takes effect on the next call.
 */
export class AccountRegistry {
  private readonly accounts: ReadonlyMap<string, AccountConfig>;
  private readonly clients = new Map<string, Promise<AccountClient>>();

  constructor(
    accounts: readonly AccountConfig[],
    private readonly options: AccountRegistryOptions = {},
  ) {
    this.accounts = new Map(accounts.map((a) => [a.name, a]));
  }

  /** Every account, in config order. */
  list(): AccountConfig[] {
    return [...this.accounts.values()];
  }

  /** The account's configuration; a ClusterError for an unknown name. */
  get(name: string): AccountConfig {
    const account = this.accounts.get(name);
    if (account) return account;
    const known = [...this.accounts.keys()];
    const shown = known.slice(0, 10).join(', ') + (known.length > 10 ? `, … (${known.length} in all)` : '');
    throw new ClusterError(`unknown account "${name}" (configured: ${shown || 'none'})`, name);
  }

  /** The account's client, built on first use. */
  client(name: string): Promise<AccountClient> {
    const account = this.get(name);
    let client = this.clients.get(name);
    if (!client) {
      client = AccountClient.create(account, {
        tokenSource: this.options.tokenSource,
        simulatedClusters: this.options.simulatedClusters,
        gkeApiUrl: this.options.gkeApiUrl ?? 'https://container.googleapis.com',
      });
      this.clients.set(name, client);
      client.catch(() => this.clients.delete(name));
    }
    return client;
  }

  /** Throws a ClusterError unless the account may touch `namespace`. */
  assertNamespace(name: string, namespace: string): void {
    const account = this.get(name);
    if (!namespaceAllowed(account.allowedNamespaces, namespace))
      throw new ClusterError(
        `account ${name} may not touch namespace "${namespace}" (allowed: ${account.allowedNamespaces.join(', ')})`,
        name,
        403,
        'Forbidden',
      );
  }

  /** Throws a ClusterError unless the account may touch cluster-scoped objects of this kind. */
  assertClusterScoped(name: string, kind: string, objectName: string): void {
    if (kind === 'Namespace') return this.assertNamespace(name, objectName);
    const account = this.get(name);
    if (!account.allowedNamespaces.includes('*'))
      throw new ClusterError(
        `account ${name} may not touch cluster-scoped ${kind} "${objectName}": its allowed namespaces (${account.allowedNamespaces.join(', ')}) do not include "*"`,
        name,
        403,
        'Forbidden',
      );
  }

  /** Clients built so far (the rest have cost nothing). */
  get builtClients(): number {
    return this.clients.size;
  }

  /** Closes every client's connections; later calls build fresh clients. */
  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map(async (c) => (await c.catch(() => undefined))?.close()));
  }
}
