// Login diagnosis from evidence: the lines below are what OpenSSH 9.2 (Debian 12) really wrote —
// ssh on stderr, sshd (LogLevel VERBOSE, -E) in the device log — for each kind of refusal.
import { describe, expect, it } from 'vitest';
import { diagnoseLogin, type LoginEvidence } from '../../../src/ssh/diagnose.js';

const denied = 'root@127.0.0.1: Permission denied (publickey).\n';
const base: LoginEvidence = { exitCode: 255, sshStderr: denied, host: '127.0.0.1', port: 22222, user: 'root', validAfter: '2026-11-30T23:05:22.000Z', validBefore: '2026-11-30T23:35:22.000Z' };
const withLog = (text: string): LoginEvidence => ({ ...base, deviceLog: { text, path: '/s/sshd.log' } });
const failedCert = 'Failed publickey for root from 127.0.0.1 port 44740 ssh2: ED25519-CERT SHA256:TrOHe4CTkJCqbpbig9DYfOW53osjIEvLmjsByFTZd3U ID old (serial 0) CA ED25519 SHA256:9Ds+pkN+iKqb1UfbPc9I/LxqimYsiF1VGe/0j1kxT6c\n';

describe('diagnoseLogin', () => {
  it('says nothing when ssh did not fail, or failed after logging in', () => {
    expect(diagnoseLogin({ ...base, exitCode: 0 })).toBeUndefined();
    expect(diagnoseLogin({ ...base, exitCode: 7 })).toBeUndefined();
    expect(diagnoseLogin({ ...base, sshStderr: '' })).toBeUndefined();
  });

  it('without the device log: quotes ssh and says where the reason is; guesses nothing', () => {
    const m = diagnoseLogin(base)!;
    expect(m).toBe('the device at 127.0.0.1:22222 refused the certificate for root (ssh: "Permission denied (publickey)"); its sshd log says why (on balenaOS: journalctl -u sshd); `fleetvault ca status` shows whether it trusts this CA');
    expect(m).not.toMatch(/clock|does not trust/);
  });

  it('the device log names the cause', () => {
    expect(diagnoseLogin(withLog('Unsafe AuthorizedKeysCommand "/tmp/fv.P3aQ/.cache/x": bad ownership or modes for directory /tmp\n' + failedCert)))
      .toBe('the device\'s sshd refuses to run its AuthorizedKeysCommand, so it reads no CA line (sshd: "Unsafe AuthorizedKeysCommand "/tmp/fv.P3aQ/.cache/x": bad ownership or modes for directory /tmp") (device log /s/sshd.log)');
    expect(diagnoseLogin(withLog('Certificate invalid: expired\n' + failedCert))).toMatch(/^the device says the certificate has expired \(sshd: "Certificate invalid: expired"; valid until 2026-11-30T23:35:22\.000Z\)/);
    expect(diagnoseLogin(withLog('Certificate invalid: not yet valid\n' + failedCert))).toMatch(/^the device's clock is behind: .*valid from 2026-11-30T23:05:22\.000Z\); fix the device's time \(NTP\)/);
    expect(diagnoseLogin(withLog('Certificate does not contain an authorized principal\n' + failedCert))).toMatch(/^the device accepts this CA only for other principals/);
    expect(diagnoseLogin(withLog('User root not allowed because account is locked\n'))).toMatch(/^the device has no usable account root \(sshd: "User root not allowed because account is locked"\)/);
    expect(diagnoseLogin({ ...withLog('User root not allowed because account is locked\n'), deviceLoginUser: 'fv' }))
      .toBe('the device has no usable account root (sshd: "User root not allowed because account is locked"); it runs unprivileged and logs in only fv: add -o User=fv (device log /s/sshd.log)');
    expect(diagnoseLogin(withLog(failedCert))).toMatch(/^the device does not trust the CA that signed the certificate: no cert-authority line for SHA256:9Ds\+pkN\+iKqb1UfbPc9I\/LxqimYsiF1VGe\/0j1kxT6c in its config\.json os\.sshKeys/);
    expect(diagnoseLogin(withLog('Connection from 127.0.0.1\n'))).toMatch(/refused the certificate for root .* gives no reason$/);
  });

  it('ssh\'s own words for host keys and unreachable servers', () => {
    expect(diagnoseLogin({ ...base, sshStderr: 'ssh: connect to host 127.0.0.1 port 22223: Connection refused\n' }))
      .toBe('cannot reach the SSH server at 127.0.0.1:22222 (ssh: "Connection refused"); check the address, the port (balenaOS: 22222) and that the device is up');
    expect(diagnoseLogin({ ...base, sshStderr: 'Host key verification failed.\n' })).toMatch(/^127\.0\.0\.1:22222 is not in your known_hosts/);
    expect(diagnoseLogin({ ...base, sshStderr: '@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n' }))
      .toMatch(/^the host key of 127\.0\.0\.1:22222 differs from the one in your known_hosts/);
  });
});
