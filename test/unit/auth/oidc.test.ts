import { describe, expect, test } from 'vitest';
import { parseListenAddress } from '../../../src/auth/oidc.js';
import { UsageError } from '../../../src/errors.js';

describe('parseListenAddress', () => {
  test('host:port, IPv6 in brackets, port only', () => {
    expect(parseListenAddress('127.0.0.1:8250')).toEqual({ host: '127.0.0.1', port: 8250 });
    expect(parseListenAddress('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseListenAddress('[::1]:8250')).toEqual({ host: '::1', port: 8250 });
    expect(parseListenAddress(':9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseListenAddress('9000')).toEqual({ host: '127.0.0.1', port: 9000 });
  });
  test('bad values are usage errors', () => {
    for (const bad of ['', 'host', '127.0.0.1:99999', '127.0.0.1:80:80', 'http://127.0.0.1:8250', '::1:8250']) {
      expect(() => parseListenAddress(bad), bad).toThrow(UsageError);
    }
  });
});
