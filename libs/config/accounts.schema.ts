import { z } from 'zod';

/**
 * The `accounts:` section of the config file: one entry per Kubernetes cluster Jibe deploys to (Spinnaker's
 * "account"). Only names, paths and public cluster data live here; credentials stay where they are (a kubeconfig
 * file, the pod's service account, Google application-default credentials) and are read when first needed.
 */

/** A namespace name, or a glob over names where `*` stands for any run of characters (`team-*`, `*-staging`). */
const namespacePattern = z
  .string()
  .regex(/^[a-z0-9*]([a-z0-9*-]{0,61}[a-z0-9*])?$/, 'a namespace name or a glob such as team-* (a-z, 0-9, "-", "*")');

const namespaceName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a namespace name (a DNS label: a-z, 0-9 and "-", at most 63)');

/** True when `namespace` matches one of the glob `patterns` (the account's allow-list). */
export function namespaceAllowed(patterns: readonly string[], namespace: string): boolean {
  return patterns.some((pattern) => globToRegExp(pattern).test(namespace));
}

function globToRegExp(pattern: string): RegExp {
  // Patterns are validated to [a-z0-9*-], so `*` is the only character with a meaning to escape for.
  return new RegExp(`^${pattern.replaceAll('*', '.*')}$`);
}

const timeoutsSchema = z
  .object({
    /** Opening a TCP/TLS connection: short, so an unreachable cluster fails its stages fast. */
    connectMs: z.number().int().min(50).max(60_000).default(3_000),
    /** One API request, from sending to the last byte of the answer. */
    requestMs: z.number().int().min(100).max(600_000).default(30_000),
    /** How long a deploy waits for its objects to become stable unless the stage says otherwise. */
    stabilityMs: z
      .number()
      .int()
      .min(1_000)
      .max(24 * 3_600_000)
      .default(10 * 60_000),
  })
  .strict()
  .prefault({});

const permissionsSchema = z
  .object({
    /** Roles (groups) that may read the account; empty means everyone. Enforced once auth lands. */
    read: z.array(z.string().min(1)).default([]),
    /** Roles that may deploy to it; empty means everyone. Enforced once auth lands. */
    write: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .prefault({});

const common = {
  /** How stages and `GET /api/accounts` name the account. */
  name: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/, 'a-z, 0-9, ".", "_" and "-", starting and ending alphanumeric'),
  /** Namespaces Jibe may touch (globs); nothing outside them is ever read or written. */
  allowedNamespaces: z.array(namespacePattern).min(1, 'list at least one namespace or pattern').default(['*']),
  /** Where a stage deploys when neither it nor the manifest names a namespace; must be allowed. */
  defaultNamespace: namespaceName.default('default'),
  timeouts: timeoutsSchema,
  /** Requests in flight to this cluster at once; more wait their turn (other accounts are not affected). */
  concurrency: z.number().int().min(1).max(1_000).default(16),
  permissions: permissionsSchema,
};

const kubeconfigAccount = z
  .object({
    ...common,
    kind: z.literal('kubeconfig'),
    /** Path to the kubeconfig file (`~` is the home directory); read on first use. */
    kubeconfig: z.string().min(1),
    /** The context to use; the file's current context when left out. */
    context: z.string().min(1).optional(),
  })
  .strict();

const inClusterAccount = z
  .object({
    ...common,
    kind: z.literal('inCluster'),
  })
  .strict();

const gkeAccount = z
  .object({
    ...common,
    kind: z.literal('gke'),
    project: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a Google Cloud project id'),
    /** A region (`europe-west1`) or zone (`europe-west1-b`). */
    location: z.string().regex(/^[a-z]+-[a-z]+\d(-[a-z])?$/, 'a region or zone such as europe-west1'),
    cluster: z.string().regex(/^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/, 'a GKE cluster name'),
    /**
     * The control plane's address (`https://34.1.2.3` or `34.1.2.3`). When left out it is looked up through the GKE
     * API with the same credentials; give it (and `caData`) where that API is not reachable.
     */
    endpoint: z
      .string()
      .regex(/^(https?:\/\/)?[^\s/]+(:\d+)?\/?$/, 'a host, host:port or URL')
      .optional(),
    /** The cluster CA certificate, base64-encoded PEM (`masterAuth.clusterCaCertificate`). Public data, not a secret. */
    caData: z.string().min(1).optional(),
  })
  .strict();

const simulatedAccount = z
  .object({
    ...common,
    kind: z.literal('simulated'),
    /** The simulated cluster serving it (default: the account name). */
    cluster: z.string().min(1).optional(),
  })
  .strict();

/** One account, by kind. */
export const accountSchema = z.discriminatedUnion('kind', [
  kubeconfigAccount,
  inClusterAccount,
  gkeAccount,
  simulatedAccount,
]);

/** The `accounts:` list: names unique, each default namespace inside its allow-list. */
export const accountsSchema = z
  .array(accountSchema)
  .default([])
  .superRefine((accounts, ctx) => {
    const seen = new Map<string, number>();
    accounts.forEach((account, index) => {
      const first = seen.get(account.name);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `duplicate account name "${account.name}" (also accounts[${first}])`,
        });
      else seen.set(account.name, index);
      if (!namespaceAllowed(account.allowedNamespaces, account.defaultNamespace))
        ctx.addIssue({
          code: 'custom',
          path: [index, 'defaultNamespace'],
          message: `"${account.defaultNamespace}" is outside allowedNamespaces (${account.allowedNamespaces.join(', ')}); set a defaultNamespace they allow`,
        });
      if (account.kind === 'gke' && account.caData !== undefined && account.endpoint === undefined)
        ctx.addIssue({ code: 'custom', path: [index, 'endpoint'], message: 'required when caData is given' });
    });
  });

/** One configured account, after defaults. */
export type AccountConfig = z.infer<typeof accountSchema>;
export type AccountKind = AccountConfig['kind'];
