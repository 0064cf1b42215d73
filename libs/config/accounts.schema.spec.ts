import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { namespaceAllowed } from './accounts.schema';
import { ConfigError, loadConfig } from './load-config';

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'jibe-accounts-'));
  const file = join(dir, 'jibe.yaml');
  writeFileSync(file, text);
  return file;
}

function problemsOf(yaml: string): string[] {
  try {
    loadConfig({ JIBE_CONFIG_FILE: configFile(yaml) });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('accounts in the config file', () => {
  it('reads every kind with its defaults', () => {
    const file = configFile(`
accounts:
  - name: staging
    kind: kubeconfig
    kubeconfig: ~/.kube/config
    context: gke_acme_europe-west1_staging
    allowedNamespaces: [team-*, staging]
    defaultNamespace: staging
  - name: prod-eu
    kind: gke
    project: acme-prod
    location: europe-west1
    cluster: prod-eu
    endpoint: https://34.1.2.3
    caData: LS0tLS1CRUdJTg==
    timeouts: { connectMs: 1000, stabilityMs: 1800000 }
    concurrency: 4
    permissions: { write: [deployers] }
  - name: self
    kind: inCluster
  - name: sim-staging
    kind: simulated
`);
    const accounts = loadConfig({ JIBE_CONFIG_FILE: file }).accounts;
    expect(accounts.map((a) => `${a.name}:${a.kind}`)).toEqual([
      'staging:kubeconfig',
      'prod-eu:gke',
      'self:inCluster',
      'sim-staging:simulated',
    ]);
    expect(accounts[0]).toMatchObject({ allowedNamespaces: ['team-*', 'staging'], defaultNamespace: 'staging' });
    expect(accounts[1]).toMatchObject({
      timeouts: { connectMs: 1000, requestMs: 30_000, stabilityMs: 1_800_000 },
      concurrency: 4,
      permissions: { read: [], write: ['deployers'] },
    });
    expect(accounts[2]).toMatchObject({ allowedNamespaces: ['*'], defaultNamespace: 'default', concurrency: 16 });
    expect(Object.isFrozen(accounts[0]!.allowedNamespaces)).toBe(true);
  });

  it('has no accounts when the file says nothing about them, outside local mode', () => {
    expect(loadConfig({ JIBE_ROLE: 'api' }).accounts).toEqual([]);
    expect(loadConfig({ NODE_ENV: 'production' }).localMode).toBe(false);
  });

  it('gives local mode (one process, no accounts) its two simulated clusters', () => {
    const config = loadConfig({});
    expect(config.localMode).toBe(true);
    expect(config.accounts.map((a) => [a.name, a.kind])).toEqual([
      ['sim-staging', 'simulated'],
      ['sim-production', 'simulated'],
    ]);
  });

  it('lists every bad account value with its path', () => {
    const problems = problemsOf(`
accounts:
  - name: Staging!
    kind: kubeconfig
    allowedNamespaces: [Team_A]
    concurrency: 0
  - name: prod
    kind: gke
    project: p
    location: mars
    cluster: prod
    caData: abc
    timeouts: { connectMs: -1, requestMs: 'soon' }
  - name: prod
    kind: simulated
    allowedNamespaces: [team-*]
  - name: other
    kind: openshift
  - name: extra
    kind: inCluster
    token: abc
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^accounts\[0\]\.name: /),
        'accounts[0].kubeconfig: required',
        expect.stringMatching(/^accounts\[0\]\.allowedNamespaces\[0\]: a namespace name or a glob/),
        expect.stringMatching(/^accounts\[0\]\.concurrency: /),
        expect.stringMatching(/^accounts\[1\]\.project: a Google Cloud project id/),
        expect.stringMatching(/^accounts\[1\]\.location: a region or zone/),
        expect.stringMatching(/^accounts\[1\]\.timeouts\.connectMs: /),
        expect.stringMatching(/^accounts\[1\]\.timeouts\.requestMs: /),
        expect.stringMatching(/^accounts\[3\]\.kind: /),
        'accounts[4]: unknown key: token',
      ]),
    );
  });

  it('refuses duplicate names, a default namespace outside the allow-list, and a CA without an endpoint', () => {
    const problems = problemsOf(`
accounts:
  - { name: a, kind: simulated }
  - { name: a, kind: simulated, allowedNamespaces: [team-*] }
  - { name: g, kind: gke, project: acme-prod, location: europe-west1-b, cluster: c, caData: abc }
`);
    expect(problems).toEqual([
      'accounts[1].name: duplicate account name "a" (also accounts[0])',
      'accounts[1].defaultNamespace: "default" is outside allowedNamespaces (team-*); set a defaultNamespace they allow',
      'accounts[2].endpoint: required when caData is given',
    ]);
  });
});

describe('namespaceAllowed', () => {
  it('matches exact names and * globs, and nothing else', () => {
    expect(namespaceAllowed(['team-*'], 'team-a')).toBe(true);
    expect(namespaceAllowed(['team-*'], 'team-')).toBe(true);
    expect(namespaceAllowed(['team-*'], 'xteam-a')).toBe(false);
    expect(namespaceAllowed(['*-staging', 'prod'], 'web-staging')).toBe(true);
    expect(namespaceAllowed(['*-staging', 'prod'], 'prod')).toBe(true);
    expect(namespaceAllowed(['*-staging', 'prod'], 'production')).toBe(false);
    expect(namespaceAllowed(['*'], 'anything')).toBe(true);
  });
});
