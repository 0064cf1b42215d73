import { type JibeConfig } from '@jibe/config';
import { type PortToken } from '@jibe/domain';
import { ClusterPort } from '@jibe/stages';
import { type DynamicModule, Module, type OnApplicationShutdown } from '@nestjs/common';
import { AccountRegistry, type AccountRegistryOptions } from './account-registry';
import { AccountsService, type AccountsServiceOptions } from './accounts.service';
import { KubernetesClusterAdapter } from './kubernetes-cluster.adapter';
import { ApplicationDefaultCredentials } from './token-source';

/** Options of {@link KubernetesModule.forRoot} (tests and local mode; production needs none). */
export interface KubernetesOptions extends AccountRegistryOptions {
  readonly accountsService?: AccountsServiceOptions;
}

/** The accounts of one configuration, with the port and the service built over them. */
export interface KubernetesRuntime {
  readonly registry: AccountRegistry;
  readonly adapter: KubernetesClusterAdapter;
  readonly accounts: AccountsService;
}

/**
 * One runtime per configuration object, shared by {@link KubernetesModule} and {@link kubernetesPortBinding}: the
 * engine's port bindings are plain objects fixed when modules are declared, outside Nest's container, so both
 * reach the same clients through the (frozen) config they were given.
 */
const runtimes = new WeakMap<object, KubernetesRuntime>();

/** The runtime for `config`, made on first call; options count only on that first call. */
export function kubernetesRuntime(
  config: Pick<JibeConfig, 'accounts'> & Partial<Pick<JibeConfig, 'google'>>,
  options: KubernetesOptions = {},
): KubernetesRuntime {
  let runtime = runtimes.get(config.accounts);
  if (!runtime) {
    const registry = new AccountRegistry(config.accounts, {
      ...options,
      // Google's rule for application-default credentials: GOOGLE_APPLICATION_CREDENTIALS first, then gcloud's file,
      // then the metadata server (a GKE workload's own identity).
      tokenSource:
        options.tokenSource ??
        new ApplicationDefaultCredentials(
          config.google?.credentialsFile ? { credentialsFile: config.google.credentialsFile } : {},
        ),
    });
    runtime = {
      registry,
      adapter: new KubernetesClusterAdapter(registry),
      accounts: new AccountsService(registry, options.accountsService),
    };
    runtimes.set(config.accounts, runtime);
  }
  return runtime;
}

/**
 * The engine's binding of {@link ClusterPort} for `config`'s accounts: pass it to
 * `EngineModule.forRoot({ ports: [kubernetesPortBinding(config)] })`. Tasks get the one adapter of that config.
 */
export function kubernetesPortBinding(config: Pick<JibeConfig, 'accounts'> & Partial<Pick<JibeConfig, 'google'>>): {
  readonly token: PortToken<ClusterPort>;
  create(): ClusterPort;
} {
  return { token: ClusterPort, create: () => kubernetesRuntime(config).adapter };
}

class KubernetesShutdown implements OnApplicationShutdown {
  constructor(private readonly registry: AccountRegistry) {}
  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }
}

/**
 * Kubernetes accounts for Nest: provides {@link AccountRegistry}, {@link AccountsService} and {@link ClusterPort}
 * (the {@link KubernetesClusterAdapter}), and closes the accounts' connections on shutdown.
 */
@Module({})
export class KubernetesModule {
  static forRoot(config: Pick<JibeConfig, 'accounts'>, options: KubernetesOptions = {}): DynamicModule {
    const runtime = kubernetesRuntime(config, options);
    return {
      module: KubernetesModule,
      providers: [
        { provide: AccountRegistry, useValue: runtime.registry },
        { provide: AccountsService, useValue: runtime.accounts },
        { provide: ClusterPort, useValue: runtime.adapter },
        { provide: KubernetesShutdown, useFactory: () => new KubernetesShutdown(runtime.registry) },
      ],
      exports: [AccountRegistry, AccountsService, ClusterPort],
    };
  }
}
