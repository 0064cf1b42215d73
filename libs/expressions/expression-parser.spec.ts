import { describe, expect, it } from 'vitest';
import { ExpressionError, parseExpression } from './index';

function parseFailure(source: string): { code: string; column: number | undefined; message: string } {
  try {
    parseExpression(source);
  } catch (error) {
    if (error instanceof ExpressionError) return { code: error.code, column: error.column, message: error.message };
    throw error;
  }
  throw new Error(`expected '${source}' not to parse`);
}

describe('parseExpression', () => {
  it('accepts the expressions pipelines use, without needing any context', () => {
    for (const source of [
      'parameters.hellotag',
      "trigger['branch']",
      "#stage('Bake').outputs.manifests[0].metadata.name",
      "#stage(\"Validate Staging\")['status'].toString() == 'SUCCEEDED'",
      "trigger.branch matches 'release/.*' ? 'prod' : 'staging'",
      "parameters.tag ?: 'latest'",
      'not parameters.dryRun and #judgment("Approve") eq \'yes\'',
      "#stage('Bake').outputs.manifests.?[kind == 'Deployment'].![metadata.name]",
      'trigger?.artifact?.reference',
      '{1, 2}.contains(parameters.replicas)',
    ]) {
      expect(() => parseExpression(source), source).not.toThrow();
    }
  });

  it('reports the column of a syntax error', () => {
    expect(parseFailure("trigger.branch == 'main' and")).toEqual({
      code: 'parse',
      column: 29,
      message: 'unexpected end of expression at column 29',
    });
    expect(parseFailure('trigger..branch')).toMatchObject({ code: 'parse', column: 9 });
    expect(parseFailure('(1 + 2')).toMatchObject({
      code: 'parse',
      column: 7,
      message: "expected ')' at column 7, found the end of the expression",
    });
    expect(parseFailure('1 2')).toMatchObject({ code: 'parse', column: 3, message: "unexpected '2' at column 3" });
    expect(parseFailure('trigger.branch ~ 1')).toMatchObject({ code: 'parse', column: 16 });
  });

  it('reports an unterminated string where it starts', () => {
    expect(parseFailure("trigger.branch == 'main")).toEqual({
      code: 'parse',
      column: 19,
      message: 'unterminated string starting at column 19',
    });
    expect(parseFailure("'it''s")).toMatchObject({ code: 'parse', column: 1 });
  });

  it('refuses empty expressions and unknown helpers or methods before anything runs', () => {
    expect(parseFailure('   ')).toMatchObject({ code: 'parse', message: 'empty expression' });
    expect(parseFailure("#fromUrl('http://169.254.169.254/')")).toMatchObject({ code: 'not-a-function', column: 1 });
    expect(parseFailure("#fromUrl('x')").message).toContain('#stage');
    expect(parseFailure('trigger.branch.getBytes()')).toMatchObject({ code: 'not-a-function', column: 16 });
    expect(parseFailure('#myVar')).toMatchObject({ code: 'not-a-function' });
  });

  it('refuses forbidden constructs with their column', () => {
    expect(parseFailure("x = 'y'")).toMatchObject({ code: 'forbidden', column: 3 });
    expect(parseFailure('a.b.constructor')).toMatchObject({ code: 'forbidden', column: 5 });
    expect(parseFailure('1 + T(Math).random()')).toMatchObject({ code: 'forbidden', column: 5 });
  });
});
