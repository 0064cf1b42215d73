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
  /** Where `inCluster` accounts read the pod's service account (default: the kubelet's mount). */
  readonly serviceAccountDir?: string;
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
        serviceAccountDir: this.options.serviceAccountDir,
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

  /**
   * Checks that the account may touch an object of this kind and says where it lives: the object's namespace
   * (`namespace`, else the account's default), or undefined for a cluster-scoped object. The scope is the one the
   * cluster's API discovery gives (cached per account, the same entry client-node builds the request URL from), so
   * a `metadata.namespace` on a cluster-scoped kind can never pass for permission. A kind the cluster does not
   * serve is refused: its scope is unknown.
   */
  async placement(
    name: string,
    object: { apiVersion: string; kind: string; name: string; namespace?: string | undefined },
  ): Promise<string | undefined> {
    const account = this.get(name);
    const namespaced = await this.namespaced(name, object.apiVersion, object.kind);
    if (!namespaced) {
      this.assertClusterScoped(name, object.apiVersion, object.kind, object.name);
      return undefined;
    }
    const namespace = object.namespace ?? account.defaultNamespace;
    this.assertNamespace(name, namespace);
    return namespace;
  }

  /** Whether the account's cluster serves the kind namespaced; a ClusterError for a kind it does not serve. */
  async namespaced(name: string, apiVersion: string, kind: string): Promise<boolean> {
    const client = await this.client(name);
    const namespaced = await client.run(() => client.objects.namespaced(apiVersion, kind));
    if (namespaced === undefined)
      throw new ClusterError(
        `account ${name}: the cluster does not serve kind ${kind} in ${apiVersion}, so whether it is namespaced is unknown and Jibe refuses it`,
        name,
      );
    return namespaced;
  }

  /**
   * Throws a ClusterError unless the account may touch cluster-scoped objects of this kind: a Namespace by its name
   * against the allow-list, any other only when the allow-list contains "*".
   */
  assertClusterScoped(name: string, apiVersion: string, kind: string, objectName: string): void {
    if (apiVersion === 'v1' && kind === 'Namespace') return this.assertNamespace(name, objectName);
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
