import { type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { LOGGED_ERROR_ID } from './domain-error.filter';
import { requestLogLevel } from './http-logger-options';

const req = {} as IncomingMessage;
const res = (statusCode: number, locals: Record<string, unknown> = {}) =>
  ({ statusCode, locals }) as unknown as ServerResponse;

describe('requestLogLevel', () => {
  it('does not log a 500 a second time when the error filter already logged it with its errorId', () => {
    expect(requestLogLevel(req, res(500, { [LOGGED_ERROR_ID]: 'e1' }))).toBe('silent');
  });

  it('logs a 5xx that no filter saw as an error, and everything else as info', () => {
    expect(requestLogLevel(req, res(502))).toBe('error');
    expect(requestLogLevel(req, res(200), new Error('socket hang up'))).toBe('error');
    expect(requestLogLevel(req, res(404))).toBe('info');
  });
});
