import { describe, expect, it } from 'vitest';
import { DeviceError, UsageError, VaultError, escapeControl, exitCodeOf, failedTo, formatError } from '../../src/errors.js';

describe('error model', () => {
  it('maps classes to exit codes: usage 1, Vault 2, device 2, unknown 1', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(1);
    expect(exitCodeOf(new VaultError('x', { path: 'p' }))).toBe(2);
    expect(exitCodeOf(new DeviceError('x'))).toBe(2);
    expect(exitCodeOf(new Error('x'))).toBe(1);
  });
  it('formats one line with the hint, no stack unless debugging', () => {
    const e = new VaultError('cannot reach Vault at http://x:1', { path: 'sys/health', hint: 'check VAULT_ADDR' });
    const line = formatError(e);
    expect(line).toBe('fleetvault: cannot reach Vault at http://x:1 (check VAULT_ADDR)');
    expect(line).not.toContain('\n');
    expect(formatError(e, true)).toContain('at ');
  });
  it('failedTo keeps the class and prefixes the verb', () => {
    const e = failedTo('sign the public key', new VaultError('permission denied', { path: 'ssh/sign/x', status: 403 }));
    expect(e).toBeInstanceOf(VaultError);
    expect(e.message).toBe('failed to sign the public key: permission denied');
    expect((e as VaultError).status).toBe(403);
  });
  it('escapes terminal control sequences', () => {
    expect(escapeControl('a\u001b[31mred\u0007\nb')).toBe('a\\x1b[31mred\\x07\\x0ab');
    expect(formatError(new UsageError('bad \u001b]0;title\u0007'))).not.toMatch(/[\u0000-\u001f]/);
  });
  it('escapes invisible characters that make one name read as another (zero-width, bidi)', () => {
    expect(escapeControl('root\u200b \u202etoor \u2066x\u2069 \ufeffy')).toBe('root\\u200b \\u202etoor \\u2066x\\u2069 \\ufeffy');
  });
});
