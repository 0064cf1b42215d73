import { type AccountKind } from '@jibe/config';
import { type AccountRegistry } from './account-registry';

/** What `GET /api/accounts` shows of one account: no credentials, paths or endpoints. */
export interface AccountView {
  readonly name: string;
  readonly kind: AccountKind;
  readonly allowedNamespaces: readonly string[];
  readonly defaultNamespace: string;
  readonly reachability: Reachability;
}

export interface Reachability {
  readonly reachable: boolean;
  /** The server's `gitVersion` when reachable. */
  readonly version?: string;
  /** Why not, when unreachable. */
  readonly error?: string;
  /** Epoch milliseconds of the check (results are cached briefly). */
  readonly checkedAt: number;
}

/** Options of {@link AccountsService}. */
export interface AccountsServiceOptions {
  /** How long a reachability result is reused (default 15 s). */
  readonly cacheMs?: number;
  /** Longest wait for one `/version` (default 2 s, or the account's connect timeout if shorter). */
  readonly checkTimeoutMs?: number;
  /** Accounts checked at once (default 64), so a listing of thousands does not open thousands of sockets. */
  readonly parallelism?: number;
}

/**
 * Lists accounts with whether their cluster answers: a `/version` call per account with a short timeout, checked in
 * parallel and cached briefly, so listing is cheap and one dead cluster costs at most one timeout.
 */
export class AccountsService {
  private readonly cache = new Map<string, Promise<Reachability>>();
  private readonly cacheMs: number;
  private readonly checkTimeoutMs: number;
  private readonly parallelism: number;

  constructor(
    private readonly registry: AccountRegistry,
    options: AccountsServiceOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 15_000;
    this.checkTimeoutMs = options.checkTimeoutMs ?? 2_000;
    this.parallelism = options.parallelism ?? 64;
  }

  async list(): Promise<AccountView[]> {
    const accounts = this.registry.list();
    const results: Reachability[] = new Array<Reachability>(accounts.length);
    let next = 0;
    const worker = async () => {
      while (next < accounts.length) {
        const index = next++;
        results[index] = await this.reachability(accounts[index]!.name);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.parallelism, accounts.length) }, worker));
    return accounts.map((a, i) => ({
      name: a.name,
      kind: a.kind,
      allowedNamespaces: a.allowedNamespaces,
      defaultNamespace: a.defaultNamespace,
      reachability: results[i]!,
    }));
  }

  /** Whether the account's cluster answers `/version` (cached for a few seconds). */
  reachability(name: string): Promise<Reachability> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const check = this.check(name);
    this.cache.set(name, check);
    setTimeout(() => this.cache.delete(name), this.cacheMs).unref();
    return check;
  }

  private async check(name: string): Promise<Reachability> {
    const account = this.registry.get(name);
    const timeoutMs = Math.min(this.checkTimeoutMs, account.timeouts.connectMs + 1_000);
    let timer: NodeJS.Timeout | undefined;
    try {
      const client = await this.registry.client(name);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      const info = await Promise.race([client.run(() => client.version.getCode()), timeout]);
      return { reachable: true, version: info.gitVersion, checkedAt: Date.now() };
    } catch (error) {
      return { reachable: false, error: reason(error), checkedAt: Date.now() };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A short reason; error messages here name the server and the path, never headers or credentials. */
function reason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number') return `HTTP ${code}`;
  return error instanceof Error ? error.message : String(error);
}
