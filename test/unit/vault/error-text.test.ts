import { describe, expect, test } from 'vitest';
import { vaultErrorText } from '../../../src/vault/client.js';

describe('vaultErrorText', () => {
  test('Vault\'s multi-error with Go\'s %!w(<nil>) becomes one clean line', () => {
    const raw = '1 error occurred:\n\t* failed to verify subset relationship between CIDR blocks on the role ["127.0.0.0/8"] and CIDR blocks on the secret ID ["10.0.0.0/8"]: %!w(<nil>)\n\n';
    expect(vaultErrorText(raw)).toBe('failed to verify subset relationship between CIDR blocks on the role ["127.0.0.0/8"] and CIDR blocks on the secret ID ["10.0.0.0/8"]');
  });
  test('several errors are joined with "; "', () => {
    expect(vaultErrorText('2 errors occurred:\n\t* first\n\t* second\n\n')).toBe('first; second');
  });
  test('an ordinary message is unchanged', () => {
    expect(vaultErrorText('permission denied')).toBe('permission denied');
  });
});
