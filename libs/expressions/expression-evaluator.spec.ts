import { describe, expect, it } from 'vitest';
import { ExpressionError, evaluateExpression, type ExpressionContext } from './index';
import { branchDeployContext } from './branch-deploy-context';

const ctx = branchDeployContext();
const evaluate = (source: string, context: ExpressionContext = ctx): unknown => evaluateExpression(source, context);

function failure(source: string, context: ExpressionContext = ctx): ExpressionError {
  try {
    evaluateExpression(source, context);
  } catch (error) {
    if (error instanceof ExpressionError) return error;
    throw error;
  }
  throw new Error(`expected '${source}' to fail`);
}

describe('property paths', () => {
  it('reads the trigger, parameters and execution by dot and by bracket', () => {
    expect(evaluate('trigger.branch')).toBe('feature/JIRA-42_New-Checkout');
    expect(evaluate("trigger['branch']")).toBe('feature/JIRA-42_New-Checkout');
    expect(evaluate("parameters['image-tag']")).toBe('1.4.0');
    expect(evaluate('execution.id')).toBe('01HZX9');
    expect(evaluate("trigger.parameters['region']")).toBe('eu');
  });

  it('fails on a misspelt property and names what exists', () => {
    const error = failure('trigger.brnch');
    expect(error.code).toBe('unknown-property');
    expect(error.message).toContain("trigger has no property 'brnch'");
    expect(error.message).toContain('branch');
    expect(error.column).toBe(1);
  });

  it('reads a missing map key by bracket as null, as SpEL does, so Elvis can supply a default', () => {
    expect(evaluate("parameters['missing']")).toBeNull();
    expect(evaluate("parameters['missing'] ?: 'latest'")).toBe('latest');
    expect(evaluate("parameters.empty ?: 'latest'")).toBe('latest');
    expect(evaluate("parameters.hellotag ?: 'latest'")).toBe('v2');
  });

  it('fails on an unknown root name', () => {
    const error = failure('namespace');
    expect(error.code).toBe('unknown-property');
    expect(error.message).toContain("unknown name 'namespace'");
    expect(error.message).toContain('trigger, parameters, execution');
  });

  it('resolves extra root names from variables, without letting them shadow trigger', () => {
    const context = { ...ctx, variables: { namespace: 'shop-feature', trigger: { branch: 'shadow' } } };
    expect(evaluate('namespace', context)).toBe('shop-feature');
    expect(evaluate('trigger.branch', context)).toBe('feature/JIRA-42_New-Checkout');
  });

  it('indexes lists and reports an index out of range', () => {
    expect(evaluate("#stage('Bake').outputs.manifests[1].kind")).toBe('Deployment');
    const error = failure("#stage('Bake').outputs.manifests[5]");
    expect(error.code).toBe('unknown-property');
    expect(error.message).toContain('index 5 is out of range');
    expect(error.message).toContain('2 element(s)');
  });

  it('fails reading a property of null unless ?. is used', () => {
    const context = { ...ctx, trigger: { artifact: null } };
    expect(failure('trigger.artifact.name', context).code).toBe('type');
    expect(failure('trigger.artifact.name', context).message).toContain('trigger.artifact is null');
    expect(evaluate('trigger.artifact?.name', context)).toBeNull();
    expect(evaluate('trigger.artifact?.toString()', context)).toBeNull();
  });
});

describe('literals', () => {
  it('supports SpEL strings with doubled-quote escapes and no backslash escapes', () => {
    expect(evaluate("'it''s'")).toBe("it's");
    expect(evaluate('"say ""hi"""')).toBe('say "hi"');
    expect(evaluate("'a\\nb'")).toBe('a\\nb');
    expect(evaluate("'}'")).toBe('}');
  });

  it('supports numbers, booleans, null, lists and maps', () => {
    expect(evaluate('42')).toBe(42);
    expect(evaluate('2.5')).toBe(2.5);
    expect(evaluate('TRUE')).toBe(true);
    expect(evaluate('null')).toBeNull();
    expect(evaluate("{1, 'two', {3}}")).toEqual([1, 'two', [3]]);
    expect(evaluate('{}')).toEqual([]);
    expect(evaluate("{app: 'shop', 'tier-name': trigger.slug}")).toEqual({ app: 'shop', 'tier-name': 'shop' });
    expect(evaluate('{:}')).toEqual({});
  });
});

describe('operators', () => {
  it('compares with symbols and with words', () => {
    expect(evaluate("trigger.source == 'github'")).toBe(true);
    expect(evaluate("trigger.source eq 'github'")).toBe(true);
    expect(evaluate("trigger.source != 'github'")).toBe(false);
    expect(evaluate("trigger.source ne 'gitlab'")).toBe(true);
    expect(evaluate('#toInt(parameters.replicas) > 2')).toBe(true);
    expect(evaluate('#toInt(parameters.replicas) ge 3 and 1 lt 2 and 2 le 2 and 3 gt 1')).toBe(true);
    expect(evaluate("'abc' < 'abd'")).toBe(true);
    expect(evaluate('{1, 2} == {1, 2}')).toBe(true);
    expect(evaluate("#stage('Bake').outputs.manifests[0] == {kind: 'Service', metadata: {name: 'shop'}}")).toBe(true);
  });

  it('refuses to order values of different types', () => {
    const error = failure('parameters.replicas > 2');
    expect(error.code).toBe('type');
    expect(error.message).toContain('cannot compare a string with a number');
  });

  it('combines conditions with and/or/not and &&/||/!, short-circuiting', () => {
    expect(evaluate("parameters.deploy and trigger.source == 'github'")).toBe(true);
    expect(evaluate('parameters.deploy && !false')).toBe(true);
    expect(evaluate('not parameters.deploy or true')).toBe(true);
    // The right side would fail; short-circuiting means it is never evaluated.
    expect(evaluate('false and trigger.nope')).toBe(false);
    expect(evaluate('true || trigger.nope')).toBe(true);
  });

  it('refuses non-boolean operands of logic operators rather than guessing truthiness', () => {
    const error = failure('trigger.branch and true');
    expect(error.code).toBe('type');
    expect(error.message).toContain('needs true or false');
    expect(failure("'yes' ? 1 : 2").code).toBe('type');
    expect(failure('not 1').code).toBe('type');
  });

  it('chooses with ?: and falls back with Elvis', () => {
    expect(evaluate("parameters.deploy ? 'apply' : 'skip'")).toBe('apply');
    expect(evaluate("trigger.source == 'gitlab' ? 'gl' : trigger.source == 'github' ? 'gh' : 'other'")).toBe('gh');
    expect(evaluate("trigger['missing'] ?: trigger['other'] ?: 'fallback'")).toBe('fallback');
  });

  it('adds numbers and concatenates strings', () => {
    expect(evaluate('1 + 2')).toBe(3);
    expect(evaluate("'shop-' + trigger.hash")).toBe('shop-3f2a9c1d');
    expect(evaluate("'replicas: ' + 3")).toBe('replicas: 3');
    expect(evaluate("'tags: ' + {1, 2}")).toBe('tags: [1,2]');
    expect(evaluate("'x' + null")).toBe('xnull');
    expect(failure('1 + true').code).toBe('type');
  });

  it('does integer arithmetic as Java does', () => {
    expect(evaluate('7 / 2')).toBe(3);
    // JSON has no separate integer type: whole numbers divide as Java ints, others as doubles.
    expect(evaluate('7.5 / 2')).toBe(3.75);
    expect(evaluate('7 % 3 + 2 * 3 - -1')).toBe(8);
    expect(evaluate('10 div 3 + 10 mod 3')).toBe(4);
    expect(failure('1 / 0').message).toContain('division by zero');
    expect(failure("'a' - 1").code).toBe('type');
  });

  it('matches whole strings against regular expressions, as Java does', () => {
    expect(evaluate("trigger.branch matches 'feature/.*'")).toBe(true);
    expect(evaluate("trigger.branch matches 'feature'")).toBe(false);
    expect(evaluate("trigger.hash matches '[0-9a-f]{8}'")).toBe(true);
    expect(failure("trigger.hash matches '[a-'").code).toBe('type');
  });
});

describe('methods', () => {
  it('calls allow-listed string methods', () => {
    expect(evaluate('trigger.branch.toLowerCase()')).toBe('feature/jira-42_new-checkout');
    expect(evaluate("trigger.slug.toUpperCase() + '-' + trigger.hash.substring(0, 4)")).toBe('SHOP-3f2a');
    expect(evaluate("trigger.branch.replace('/', '-')")).toBe('feature-JIRA-42_New-Checkout');
    expect(evaluate("'a$b'.replace('$', '$&$&')")).toBe('a$&$&b');
    expect(evaluate("trigger.branch.replaceAll('[^A-Za-z0-9]+', '-').toLowerCase()")).toBe(
      'feature-jira-42-new-checkout',
    );
    expect(evaluate("trigger.branch.startsWith('feature/') && trigger.branch.endsWith('Checkout')")).toBe(true);
    expect(evaluate("trigger.user.contains('@acme.')")).toBe(true);
    expect(evaluate("trigger.branch.split('/')")).toEqual(['feature', 'JIRA-42_New-Checkout']);
    expect(evaluate("'a,b,,'.split(',')")).toEqual(['a', 'b']);
    expect(evaluate("'  padded '.trim().length()")).toBe(6);
    expect(evaluate("trigger.user.indexOf('@')")).toBe(4);
  });

  it('fails substring out of range instead of silently shortening', () => {
    const error = failure('trigger.hash.substring(2, 40)');
    expect(error.code).toBe('type');
    expect(error.message).toContain('out of range');
  });

  it('calls list and map methods', () => {
    expect(evaluate("#stage('Bake').outputs.manifests.size()")).toBe(2);
    expect(evaluate("{'a', 'b'}.contains('b')")).toBe(true);
    expect(evaluate("trigger.parameters.containsKey('region')")).toBe(true);
    expect(evaluate("trigger.parameters.get('nope')")).toBeNull();
    expect(evaluate('trigger.parameters.keySet()')).toEqual(['region']);
    expect(evaluate('(1 + 2).toString()')).toBe('3');
  });

  it('reports a method that exists on another type, or a wrong argument count, clearly', () => {
    const wrongType = failure('trigger.parameters.toLowerCase()');
    expect(wrongType.code).toBe('not-a-function');
    expect(wrongType.message).toContain('toLowerCase() is not an allowed method on a map');
    expect(failure('trigger.branch.startsWith()').message).toContain('takes 1 argument(s), got 0');
    expect(failure('trigger.branch.substring(1.5)').code).toBe('type');
  });
});

describe('helpers', () => {
  it('#stage finds a stage by name with its status, context and outputs', () => {
    expect(evaluate("#stage('Bake').outputs.manifests[0].metadata.name")).toBe('shop');
    expect(evaluate("#stage('Bake').context.namespace")).toBe('shop-feature');
    expect(evaluate("#stage(\"Validate Staging\")['status'].toString() == 'SUCCEEDED'")).toBe(true);
    expect(evaluate("#stage('Bake').endTime - #stage('Bake').startTime")).toBe(5000);
  });

  it('#stage fails with the names of the stages that do exist', () => {
    const error = failure("#stage('Bake manifests')");
    expect(error.code).toBe('not-found');
    expect(error.message).toContain("no stage named 'Bake manifests'");
    expect(error.message).toContain("'Bake'");
    expect(evaluate("#stageExists('Bake manifests') ? 1 : 0")).toBe(0);
  });

  it('#judgment returns the input chosen in a manual judgment', () => {
    expect(evaluate("#judgment('Approve rollout')")).toBe('canary');
    expect(evaluate("#judgement('Approve rollout') == 'canary'")).toBe(true);
    expect(failure("#judgment('Bake')").code).toBe('not-found');
  });

  it('#stageByRefId and #currentStage', () => {
    expect(evaluate("#stageByRefId('3').name")).toBe('Validate Staging');
    expect(evaluate('#currentStage().context.account')).toBe('staging');
    expect(failure('#currentStage()', { ...ctx, currentStageId: undefined }).code).toBe('not-found');
  });

  it('#toJson, #toBase64, #fromBase64 and #alphanumerical', () => {
    expect(evaluate('#toJson(trigger.parameters)')).toBe('{"region":"eu"}');
    expect(evaluate("#toJson({'a', 1, true, null})")).toBe('["a",1,true,null]');
    expect(evaluate("#toBase64('user:pässword')")).toBe(Buffer.from('user:pässword').toString('base64'));
    expect(evaluate("#fromBase64(#toBase64('round trip'))")).toBe('round trip');
    expect(failure("#fromBase64('not base64!')").code).toBe('type');
    expect(evaluate('#alphanumerical(trigger.branch)')).toBe('featureJIRA42NewCheckout');
  });

  it('#toInt, #toFloat and #toBoolean convert parameter strings', () => {
    expect(evaluate('#toInt(parameters.replicas) + 1')).toBe(4);
    expect(evaluate("#toFloat('2.5') * 2")).toBe(5);
    expect(evaluate("#toBoolean('TRUE') and not #toBoolean('no')")).toBe(true);
    expect(failure("#toInt('three')").code).toBe('type');
  });
});

describe('selection and projection', () => {
  it('filters and maps lists of manifests', () => {
    expect(evaluate("#stage('Bake').outputs.manifests.?[kind == 'Deployment'][0].spec.replicas")).toBe(2);
    expect(evaluate("#stage('Bake').outputs.manifests.![kind]")).toEqual(['Service', 'Deployment']);
    expect(evaluate("#stage('Bake').outputs.manifests.^[#this.kind != 'Secret'].kind")).toBe('Service');
    expect(evaluate("#stage('Bake').outputs.manifests.$[metadata.name == 'shop'].kind")).toBe('Deployment');
    expect(evaluate('{1, 2, 3}.?[#this > 5].size()')).toBe(0);
  });
});

describe('results', () => {
  it('returns a copy that does not alias the context', () => {
    const context = branchDeployContext();
    const manifests = evaluate("#stage('Bake').outputs.manifests", context) as { kind: string }[];
    manifests[0]!.kind = 'Edited';
    expect(evaluate("#stage('Bake').outputs.manifests[0].kind", context)).toBe('Service');
  });

  it('accepts a whole ${ } string as Spinnaker preconditions and stageEnabled do', () => {
    expect(evaluate("${ #stage('Validate Staging').status == 'SUCCEEDED' }")).toBe(true);
    expect(failure('${ 1 } and ${ 2 }').code).toBe('parse');
  });
});

describe('names inside selections', () => {
  it('reads names from the element and says how to reach top-level names', () => {
    const error = failure("#stage('Bake').outputs.manifests.?[kind == parameters.kind]");
    expect(error.code).toBe('unknown-property');
    expect(error.message).toContain('use #root.parameters');
    expect(evaluate("#stage('Bake').outputs.manifests.?[kind == #root.parameters['kind']].size()")).toBe(0);
  });
});
