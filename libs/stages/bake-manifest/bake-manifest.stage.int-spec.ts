import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StageSimulator, startStageSimulator } from '../../../test/support/stage-simulator';
import { deployManifestStage } from '../deploy-manifest/deploy-manifest.stage';
import { runStage } from '../cluster-kit/testing/stage-harness';
import { bakeManifestStage } from './bake-manifest.stage';
import { GitTemplateSourceAdapter } from './git-template-source.adapter';
import { TemplateSourcePort } from './template-source.port';

const deploymentTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{name}}
spec:
  replicas: {{replicas}}
  template:
    spec:
      containers:
        - name: app
          image: "{{image.repository}}:{{image.tag}}"
`;

/** A Deployment the API accepts (a selector matching its pods' labels), for the bake that is deployed. */
const runnableTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{name}}
spec:
  replicas: {{replicas}}
  selector:
    matchLabels: {app: "{{name}}"}
  template:
    metadata:
      labels: {app: "{{name}}"}
    spec:
      containers:
        - name: app
          image: "{{image.repository}}:{{image.tag}}"
`;

// Baking reads no cluster; the one simulator of this file is there for the bake that feeds a deploy.
let env: StageSimulator;
beforeAll(async () => {
  env = await startStageSimulator();
});
afterAll(async () => {
  await env?.close();
});

const bake = (config: Record<string, unknown>, ports: [typeof TemplateSourcePort, unknown][] = []) =>
  runStage(bakeManifestStage, config, { clusterPort: env.adapter, ports });

describe('bakeManifest (inline)', () => {
  it('renders with values, environment values and overrides into a content-addressed artifact', async () => {
    const run = await bake({
      outputName: 'web',
      namespace: 'staging',
      templates: [{ name: 'deployment.yaml', content: deploymentTemplate }],
      values: { name: 'web', replicas: 1, image: { repository: 'web', tag: 'latest' } },
      environment: 'production',
      environments: { production: { replicas: 5 } },
      overrides: { image: { tag: '1.4.2' } },
    });
    expect(run.status).toBe('SUCCEEDED');
    const [artifact] = run.outputs['artifacts'] as { type: string; name: string; reference: string; sha256: string }[];
    expect(artifact).toMatchObject({ type: 'embedded/base64', name: 'web' });
    const yaml = Buffer.from(artifact!.reference, 'base64').toString();
    expect(yaml).toContain('image: web:1.4.2');
    expect(yaml).toContain('replicas: 5');
    expect(yaml).toContain('namespace: staging');
    const again = await bake({
      outputName: 'web',
      namespace: 'staging',
      templates: [{ name: 'deployment.yaml', content: deploymentTemplate }],
      values: { name: 'web', replicas: 5, image: { repository: 'web', tag: '1.4.2' } },
    });
    expect((again.outputs['artifacts'] as { sha256: string }[])[0]!.sha256).toBe(artifact!.sha256);
  });

  it('fails on a missing value naming the template, the line and the path', async () => {
    const run = await bake({
      templates: [{ name: 'deployment.yaml', content: deploymentTemplate }],
      values: { name: 'web', replicas: 1, image: { repository: 'web' } },
    });
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toBe('deployment.yaml line 11: missing value image.tag in {{image.tag}}');
  });

  it('lets a value be optional with default and #if', async () => {
    const run = await bake({
      templates: [
        {
          name: 'cm.yaml',
          content:
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{default name "cfg"}}\n{{#if labels}}  labels: {{toJson labels}}\n{{/if}}',
        },
      ],
    });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.outputs['manifests']).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' } }]);
  });

  it('checks every document, naming template and document', async () => {
    const run = await bake({
      templates: [
        {
          name: 'a.yaml',
          content: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\nkind: Service\nmetadata:\n  name: s\n',
        },
        {
          name: 'b.yaml',
          content: 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n',
        },
        { name: 'c.yaml', content: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [}\n' },
      ],
    });
    expect(run.status).toBe('TERMINAL');
    expect(run.error?.message).toContain('a.yaml document 2: apiVersion: required');
    expect(run.error?.message).toContain('b.yaml document 1: a Secret with data would be stored in plain text');
    expect(run.error?.message).toContain('c.yaml document 1: invalid YAML');
  });

  it('rejects other renderers and ambiguous sources at save time', () => {
    const issues = bakeManifestStage.config.safeParse({
      templateRenderer: 'HELM3',
      templates: [{ name: 'a', content: '' }],
    }).error!.issues;
    expect(issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['templateRenderer', 'Jibe renders HANDLEBARS templates (Helm and Kustomize are not supported)'],
    ]);
    expect(bakeManifestStage.config.safeParse({}).error!.issues[0]).toMatchObject({
      path: ['templates'],
      message: 'set either templates (inline) or git',
    });
  });

  // Fails if deployManifest reads the artifact's manifests from anywhere but the upstream stage's outputs (nothing
  // is deployed): checked by making findArtifact ignore upstream stages once.
  it('feeds deployManifest through its artifact', async () => {
    const ns = 'bake-to-deploy';
    await env.user.createNamespace(ns);
    const baked = await bake({
      outputName: 'web',
      namespace: ns,
      templates: [{ name: 'd.yaml', content: runnableTemplate }],
      values: { name: 'web', replicas: 2, image: { repository: 'web', tag: '1' } },
    });
    expect(baked.status, JSON.stringify(baked.error)).toBe('SUCCEEDED');
    const bakeStage = {
      id: 'bake',
      refId: 'b',
      name: 'Bake',
      type: 'bakeManifest',
      status: 'SUCCEEDED' as const,
      context: {},
      outputs: baked.outputs,
      startTime: 1,
    };
    const run = await runStage(
      deployManifestStage,
      { account: env.account, source: 'artifact', manifestArtifactId: 'web' },
      { clusterPort: env.adapter, stages: [bakeStage] },
    );
    expect(run.status, JSON.stringify(run.error)).toBe('SUCCEEDED');
    // What `kubectl get deploy,pods -n bake-to-deploy` shows: the baked Deployment, its two pods running web:1.
    expect((await env.user.get('apps/v1', 'Deployment', ns, 'web'))!.spec!['replicas']).toBe(2);
    const pods = await env.user.list('v1', 'Pod', ns, 'app=web');
    expect(pods.map((p) => (p.spec!['containers'] as { image: string }[])[0]!.image)).toEqual(['web:1', 'web:1']);
    const missing = await runStage(
      deployManifestStage,
      { account: env.account, source: 'artifact', manifestArtifactId: 'api' },
      { clusterPort: env.adapter, stages: [bakeStage] },
    );
    expect(missing.error?.message).toBe(
      'no artifact "api" in this execution (artifacts here: web); produce it with bakeManifest upstream or pass it in the trigger',
    );
  });
});

describe('bakeManifest (git)', () => {
  let root: string;
  let repository: string;
  let first: string;
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repository, encoding: 'utf8' }).trim();
  const source = new GitTemplateSourceAdapter({ allowedProtocols: ['file'] });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'jibe-bake-spec-'));
    repository = join(root, 'repo');
    mkdirSync(join(repository, 'deploy/templates'), { recursive: true });
    git('init', '-q', '-b', 'main');
    git('config', 'user.email', 'ci@example.com');
    git('config', 'user.name', 'ci');
    writeFileSync(
      join(repository, 'deploy/values.yaml'),
      'name: web\nreplicas: 1\nimage: {repository: web, tag: base}\n',
    );
    writeFileSync(join(repository, 'deploy/values-production.yaml'), 'replicas: 4\n');
    writeFileSync(join(repository, 'deploy/templates/_labels.tpl'), 'app: {{name}}');
    writeFileSync(
      join(repository, 'deploy/templates/deployment.yaml'),
      deploymentTemplate.replace(
        'metadata:\n  name: {{name}}',
        'metadata:\n  name: {{name}}\n  labels:\n    {{> labels}}',
      ),
    );
    git('add', '.');
    git('commit', '-q', '-m', 'v1');
    first = git('rev-parse', 'HEAD');
    writeFileSync(
      join(repository, 'deploy/values.yaml'),
      'name: web\nreplicas: 1\nimage: {repository: web, tag: second}\n',
    );
    git('commit', '-q', '-am', 'v2');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('renders a folder of a real repository at a branch, with values files and partials', async () => {
    const run = await bake(
      { git: { repository, ref: 'main', path: 'deploy' }, valuesFiles: ['values-production.yaml'] },
      [[TemplateSourcePort, source]],
    );
    expect(run.error).toBeUndefined();
    expect(run.outputs['templateCommit']).toBe(git('rev-parse', 'HEAD'));
    expect(run.outputs['manifests']).toMatchObject([
      {
        kind: 'Deployment',
        metadata: { name: 'web', labels: { app: 'web' } },
        spec: { replicas: 4, template: { spec: { containers: [{ image: 'web:second' }] } } },
      },
    ]);
  });

  it('pins a commit', async () => {
    const run = await bake({ git: { repository, ref: first, path: 'deploy' } }, [[TemplateSourcePort, source]]);
    expect(run.outputs['templateCommit']).toBe(first);
    expect(JSON.stringify(run.outputs['manifests'])).toContain('web:base');
  });

  it('fails clearly for an unknown ref, a missing folder, and a protocol that is not allowed', async () => {
    const unknown = await bake({ git: { repository, ref: 'nope', path: 'deploy' } }, [[TemplateSourcePort, source]]);
    expect(unknown.error?.message).toMatch(/^git fetching nope from .* failed: .*couldn't find remote ref nope/);
    const folder = await bake({ git: { repository, ref: 'main', path: 'charts' } }, [[TemplateSourcePort, source]]);
    expect(folder.error?.message).toBe('no folder . in the repository');
    const denied = await bake({ git: { repository, ref: 'main', path: 'deploy' } }, [
      [TemplateSourcePort, new GitTemplateSourceAdapter()],
    ]);
    expect(denied.error?.message).toMatch(/transport 'file' not allowed/);
  });
});
