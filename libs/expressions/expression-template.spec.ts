import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  containsExpression,
  evaluateTemplate,
  validateTemplate,
  type ExpressionFailure,
  type TemplateResult,
} from './index';
import { branchDeployContext } from './branch-deploy-context';

const fixtures = resolve(__dirname, '../../test/fixtures/spinnaker');
const readFixture = (name: string): unknown => JSON.parse(readFileSync(resolve(fixtures, name), 'utf8'));
const ctx = branchDeployContext();

function valueOf(result: TemplateResult): unknown {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.failures)}`);
  return result.value;
}

function failuresOf(result: TemplateResult): readonly ExpressionFailure[] {
  if (result.ok) throw new Error(`expected failures, got ${JSON.stringify(result.value)}`);
  return result.failures;
}

describe('evaluateTemplate on real pipelines', () => {
  it('fills the image tag of the official blue/green example from its parameter', () => {
    const pipeline = readFixture('10-official-bluegreen-replicaset.json') as {
      stages: { manifests: { spec: { template: { spec: { containers: { image: string }[] } } } }[] }[];
    };
    const before = JSON.stringify(pipeline);
    const stage = pipeline.stages.findIndex((s) => JSON.stringify(s).includes('${'));
    const result = valueOf(evaluateTemplate(pipeline, { ...ctx, parameters: { hellotag: 'v1' } })) as typeof pipeline;

    const image = result.stages[stage]?.manifests[0]?.spec.template.spec.containers[0]?.image;
    expect(image).toBe('us-docker.pkg.dev/spinnaker-community/codelabs/helloworld:v1');
    expect(containsExpression(result)).toBe(false);
    // The pipeline definition itself is not touched: the engine evaluates a copy per stage.
    expect(JSON.stringify(pipeline)).toBe(before);
  });

  it('names the exact location when the parameter is missing', () => {
    const pipeline = readFixture('10-official-bluegreen-replicaset.json');
    const failures = failuresOf(evaluateTemplate(pipeline, { ...ctx, parameters: {} }));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      code: 'unknown-property',
      expression: 'parameters.hellotag',
      path: expect.stringMatching(/^stages\[\d+\]\.manifests\[0\]\.spec\.template\.spec\.containers\[0\]\.image$/),
      offset: 'us-docker.pkg.dev/spinnaker-community/codelabs/helloworld:'.length,
      message: "parameters has no property 'hellotag' (it is empty)",
    });
  });

  it("evaluates the GKE sample's precondition on the status of another stage", () => {
    const pipeline = readFixture('01-gke-helloworld-deploy-staging.json') as {
      stages: { preconditions?: { context: { expression: unknown } }[] }[];
    };
    const check = pipeline.stages.find((s) => s.preconditions !== undefined);
    const condition = check?.preconditions?.[0]?.context;
    expect(valueOf(evaluateTemplate(condition, ctx))).toEqual({ expression: true });
    const failing = branchDeployContext();
    const stages = (failing.stages ?? []).map((s) =>
      s.name === 'Validate Staging' ? { ...s, status: 'TERMINAL' } : s,
    );
    expect(valueOf(evaluateTemplate(condition, { ...failing, stages }))).toEqual({ expression: false });
  });

  it("resolves the codelab's bare `namespace` from the names the engine puts at the root", () => {
    const pipeline = readFixture('04-gke-codelab-deploy-to-staging.json');
    const result = valueOf(evaluateTemplate(pipeline, { ...ctx, variables: { namespace: 'staging' } }));
    const text = JSON.stringify(result);
    expect(text).toContain('"namespace":"staging"');
    expect(text).toContain('curl http://backend.staging/');
    expect(text).not.toContain('${');
  });
});

describe('evaluateTemplate typing and interpolation', () => {
  it('gives a lone expression its own type and interpolates text around expressions', () => {
    const result = valueOf(
      evaluateTemplate(
        {
          replicas: '${ #toInt(parameters.replicas) }',
          enabled: '${parameters.deploy}',
          manifests: "${ #stage('Bake').outputs.manifests.?[kind == 'Deployment'] }",
          nothing: "${ parameters['unset'] }",
          name: 'shop-${ #alphanumerical(trigger.branch).toLowerCase().substring(0, 12) }-${trigger.hash}',
          summary: 'replicas=${ 1 + 2 } deploy=${ parameters.deploy } tags=${ {1,2} } none=[${ null }]',
          spaced: ' ${ 1 }',
          untouched: 'no expressions, $HOME and {braces}',
          count: 3,
          flag: false,
        },
        ctx,
      ),
    );
    expect(result).toEqual({
      replicas: 3,
      enabled: true,
      manifests: [{ kind: 'Deployment', metadata: { name: 'shop', labels: { app: 'shop' } }, spec: { replicas: 2 } }],
      nothing: null,
      name: 'shop-featurejira4-3f2a9c1d',
      summary: 'replicas=3 deploy=true tags=[1,2] none=[]',
      spaced: ' 1',
      untouched: 'no expressions, $HOME and {braces}',
      count: 3,
      flag: false,
    });
  });

  it('handles braces and quotes inside an expression', () => {
    expect(valueOf(evaluateTemplate("${ '}' + '{' }", ctx))).toBe('}{');
    expect(valueOf(evaluateTemplate('${ {a: {b: 1}}.a.b }', ctx))).toBe(1);
    expect(valueOf(evaluateTemplate("${ 'it''s' } ok", ctx))).toBe("it's ok");
  });

  it('never evaluates text that came out of an expression, such as a hostile branch name', () => {
    const context = { ...ctx, trigger: { branch: '${ #toJson(execution) }' } };
    expect(valueOf(evaluateTemplate('ns-${ trigger.branch }', context))).toBe('ns-${ #toJson(execution) }');
    expect(valueOf(evaluateTemplate('${ trigger.branch }', context))).toBe('${ #toJson(execution) }');
  });

  it('leaves object keys alone and copies keys that are not identifiers', () => {
    const result = valueOf(
      evaluateTemplate({ metadata: { labels: { 'app.kubernetes.io/name': '${trigger.slug}' } }, '${key}': 1 }, ctx),
    );
    expect(result).toEqual({ metadata: { labels: { 'app.kubernetes.io/name': 'shop' } }, '${key}': 1 });
  });

  it('returns results that do not alias the context', () => {
    const context = branchDeployContext();
    const result = valueOf(evaluateTemplate({ m: "${ #stage('Bake').outputs.manifests }" }, context)) as {
      m: { kind: string }[];
    };
    result.m[0]!.kind = 'Edited';
    expect(context.stages?.[0]?.outputs).toMatchObject({ manifests: [{ kind: 'Service' }, { kind: 'Deployment' }] });
  });
});

describe('evaluateTemplate failures', () => {
  it('reports every failing expression with its path, and never returns a partly evaluated value', () => {
    const result = evaluateTemplate(
      {
        stages: [
          { name: 'ok ${ trigger.slug }' },
          {
            manifests: [{ metadata: { 'some-key': ['${ trigger.brnch }'], name: 'x-${ #nope() }' } }],
          },
        ],
      },
      ctx,
    );
    expect(result.ok).toBe(false);
    expect(result).not.toHaveProperty('value');
    expect(failuresOf(result)).toEqual([
      {
        code: 'unknown-property',
        expression: 'trigger.brnch',
        path: "stages[1].manifests[0].metadata['some-key'][0]",
        offset: 0,
        column: 1,
        message: expect.stringContaining("trigger has no property 'brnch'"),
      },
      {
        code: 'not-a-function',
        expression: '#nope()',
        path: 'stages[1].manifests[0].metadata.name',
        offset: 2,
        column: 1,
        message: expect.stringContaining('#nope is not a known helper'),
      },
    ]);
  });

  it('reports a syntax error with its column within the expression', () => {
    const [failure] = failuresOf(evaluateTemplate({ image: 'app:${ parameters.tag + }' }, ctx));
    expect(failure).toMatchObject({ code: 'parse', expression: 'parameters.tag +', path: 'image', column: 17 });
    expect(failure?.message).toContain('unexpected end of expression at column 17');
  });

  it('reports a ${ with no closing brace, naming where it starts', () => {
    const [failure] = failuresOf(evaluateTemplate({ spec: { image: 'app:${ parameters.hellotag' } }, ctx));
    expect(failure).toMatchObject({
      code: 'parse',
      path: 'spec.image',
      offset: 4,
      expression: 'parameters.hellotag',
      message: "'${' at character 5 of the string has no closing '}'",
    });
  });

  it('prefixes failure paths with the caller-supplied base path', () => {
    const [failure] = failuresOf(evaluateTemplate({ namespace: '${ nope }' }, ctx, { path: 'stages[3]' }));
    expect(failure?.path).toBe('stages[3].namespace');
    const [root] = failuresOf(evaluateTemplate('${ nope }', ctx));
    expect(root?.path).toBe('');
  });

  it('refuses an interpolated string that would grow past the output limit', () => {
    const context = { ...ctx, trigger: { chunk: 'x'.repeat(600) } };
    const [failure] = failuresOf(
      evaluateTemplate('${trigger.chunk}-${trigger.chunk}', context, { limits: { maxOutputLength: 1000 } }),
    );
    expect(failure?.code).toBe('too-long');
  });
});

describe('validateTemplate and containsExpression', () => {
  it('reports syntax and refused constructs without evaluating anything', () => {
    const failures = validateTemplate(
      {
        stages: [
          { refId: '1', namespace: '${ trigger.branch }', note: '${ #stage("Missing").outputs }' },
          { refId: '2', image: '${ parameters.tag ?? }', cmd: "${ T(java.lang.Runtime).getRuntime().exec('id') }" },
        ],
      },
      { path: 'pipeline' },
    );
    // Unknown names and stages are only known at run time, so they are not errors here.
    expect(failures.map((f) => [f.path, f.code])).toEqual([
      ['pipeline.stages[1].image', 'parse'],
      ['pipeline.stages[1].cmd', 'forbidden'],
    ]);
    expect(validateTemplate({ a: 'plain', b: ['${ 1 + 1 }'] })).toEqual([]);
  });

  it('finds ${ anywhere in a value', () => {
    expect(containsExpression({ a: [{ b: 'x ${y}' }] })).toBe(true);
    expect(containsExpression({ a: [{ b: '$ {y}' }], '${k}': 1 })).toBe(false);
    expect(containsExpression('${')).toBe(true);
    expect(containsExpression(42)).toBe(false);
  });
});

describe('literal ${ in strings', () => {
  it("fails on a shell variable and explains how to keep it literal with ${'${'}", () => {
    const job = { args: ['-c', 'echo ${HOME} > /tmp/out'] };
    const [failure] = failuresOf(evaluateTemplate(job, ctx));
    expect(failure).toMatchObject({ code: 'unknown-property', expression: 'HOME', path: 'args[1]', offset: 5 });
    expect(failure?.message).toContain("write ${'${'}HOME} to keep '${HOME}' literal");
    const escaped = { args: ['-c', "echo ${'${'}HOME} > /tmp/out"] };
    expect(valueOf(evaluateTemplate(escaped, ctx))).toEqual({ args: ['-c', 'echo ${HOME} > /tmp/out'] });
  });
});
