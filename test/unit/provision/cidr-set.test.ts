import { describe, expect, it } from 'vitest';
import { cidrSet } from '../../../src/provision/cidr.js';

describe('cidrSet', () => {
  it('tests IPv4 and IPv6 addresses against the ranges; a bare address is a /32', () => {
    const s = cidrSet(['203.0.113.0/24', '127.0.0.1', '2001:db8::/32'])!;
    expect(s.contains('203.0.113.77')).toBe(true);
    expect(s.contains('203.0.114.1')).toBe(false);
    expect(s.contains('127.0.0.1')).toBe(true);
    expect(s.contains('127.0.0.2')).toBe(false);
    expect(s.contains('2001:db8::1')).toBe(true);
    expect(s.contains('2001:db9::1')).toBe(false);
  });
  it('an unknown or malformed source is never inside', () => {
    const s = cidrSet(['0.0.0.0/0'])!;
    expect(s.contains(undefined)).toBe(false);
    expect(s.contains('not-an-ip')).toBe(false);
  });
  it('no ranges means no set; bad ranges are refused', () => {
    expect(cidrSet([])).toBeUndefined();
    expect(() => cidrSet(['10.0.0.0/33'])).toThrow(/invalid CIDR/);
  });
});
