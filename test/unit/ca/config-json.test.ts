// editSshKeys' keepSameCa: phase 1 of a migration to scoped lines adds the scoped line next to the
// CA's principals="root" line instead of replacing it, so access that works today keeps working
// until the scoped line is proven; phase 2 (removeFingerprints of the same CA) drops the old one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sshpk from 'sshpk';
import { editSshKeys, keyFingerprint, trustedCas } from '../../../src/ca/config-json.js';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';
import { freePort, waitForPort } from '../../../src/dev/free-port.js';

function ca() {
  const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const key = sshpk.parseKey(pem, 'pem');
  return { publicKey: key.toString('ssh'), fingerprint: key.fingerprint('sha256').toString(), mount: 'ssh-client-signer' };
}

const CA = ca();
const OTHER = ca();
const op = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKeyOperatorKeyOperatorKeyOpera op@laptop';
const root = authorizedKeyLine({ ...CA, principals: ['root'] });
const scoped = authorizedKeyLine({ ...CA, principals: ['device-0123456789abcdef0123456789abcdef', 'fleet-acme.a', 'break-glass'] });
const config = (keys: string[]) => JSON.stringify({ uuid: 'x', os: { sshKeys: keys } }, null, 2) + '\n';

describe('editSshKeys keepSameCa', () => {
  it('replaces a same-CA line in place by default (unchanged behaviour)', () => {
    const r = editSshKeys(config([op, root]), { add: scoped });
    expect(r.sshKeys).toEqual([op, scoped]);
    expect(r).toMatchObject({ added: [scoped], removed: [root] });
  });

  it('with keepSameCa adds the line right after it and removes nothing', () => {
    const other = authorizedKeyLine({ ...OTHER, principals: ['root'] });
    const r = editSshKeys(config([op, root, other]), { add: scoped, keepSameCa: true });
    expect(r.sshKeys).toEqual([op, root, scoped, other]);
    expect(r).toMatchObject({ changed: true, added: [scoped], removed: [] });
    // Idempotent: the second run changes nothing.
    expect(editSshKeys(r.text, { add: scoped, keepSameCa: true })).toMatchObject({ changed: false, added: [], removed: [] });
  });

  it('phase 2 removes the other lines of the same CA and keeps the scoped one', () => {
    const both = editSshKeys(config([op, root]), { add: scoped, keepSameCa: true }).text;
    const r = editSshKeys(both, { add: scoped, removeFingerprints: [CA.fingerprint] });
    expect(r.sshKeys).toEqual([op, scoped]);
    expect(r).toMatchObject({ added: [], removed: [root] });
    expect(editSshKeys(r.text, { add: scoped, removeFingerprints: [CA.fingerprint] }).changed).toBe(false);
  });

  it('appends when the CA has no line yet', () => {
    expect(editSshKeys(config([op]), { add: scoped, keepSameCa: true }).sshKeys).toEqual([op, scoped]);
  });
});

// Review #14: the editor never turns scoped trust into root trust by itself, refuses a scoped line
// for another device's config.json, and reads a line's key where sshd does.
describe('editSshKeys: no silent downgrade of scoped lines', () => {
  const rootOther = authorizedKeyLine({ ...OTHER, principals: ['root'] });

  it('R2: an unscoped line never replaces a scoped line of the same CA; nothing is written', () => {
    expect(() => editSshKeys(config([op, scoped]), { add: root }, 'dev:/c'))
      .toThrow(new RegExp(`^dev:/c trusts CA ${CA.fingerprint.replace(/[+/]/g, '\\$&')} for scoped principals only; refusing an unscoped line \\(principals="root"\\).*left unchanged: add --scoped to keep it scoped, or --unscope to replace it on purpose$`));
  });

  it('R2: --unscope replaces it in place, on purpose', () => {
    const r = editSshKeys(config([op, scoped]), { add: root, unscope: true });
    expect(r.sshKeys).toEqual([op, root]);
    expect(r.removed).toEqual([scoped]);
  });

  it('a device between the two phases (root and scoped line) is left as it is by an unscoped re-run', () => {
    expect(editSshKeys(config([op, root, scoped]), { add: root }).changed).toBe(false);
  });

  it('R4: keepScopedOf — a root line of a new CA is refused where the old CA is trusted scoped, also when the same edit removes the old line', () => {
    const oldScoped = authorizedKeyLine({ ...OTHER, principals: ['device-0123456789abcdef0123456789abcdef', 'fleet-acme.a', 'break-glass'] });
    expect(() => editSshKeys(config([op, oldScoped]), { add: root, keepScopedOf: [OTHER.fingerprint], scopedHint: 'use --scoped' }))
      .toThrow(/trusts CA SHA256:\S+ for scoped principals only; .*left unchanged: use --scoped$/);
    expect(() => editSshKeys(config([op, oldScoped]), { add: root, removeFingerprints: [OTHER.fingerprint], keepScopedOf: [OTHER.fingerprint] })).toThrow(/scoped principals only/);
    // An old CA trusted for root does not stop an unscoped rotation.
    expect(editSshKeys(config([op, rootOther]), { add: root, keepScopedOf: [OTHER.fingerprint] }).sshKeys).toEqual([op, rootOther, root]);
  });
});

describe('editSshKeys expectUuid (review #14 R3)', () => {
  const U = '0123456789abcdef0123456789abcdef';
  const B = 'f'.repeat(32);
  const withUuid = (uuid: unknown) => JSON.stringify({ uuid, os: { sshKeys: [op] } });

  it('refuses a scoped line for another device, naming both uuids; file content is never echoed', () => {
    expect(() => editSshKeys(withUuid(U), { add: scoped, expectUuid: B }, 'a:/c'))
      .toThrow(new RegExp(`^a:/c belongs to device ${U}, not ${B}: refusing to write device ${B}'s scoped line there; left unchanged`));
    expect(() => editSshKeys(withUuid('not-a-uuid secret'), { add: scoped, expectUuid: B }, 'a:/c')).toThrow(/^a:\/c belongs to another device, not f+:/);
    try { editSshKeys(withUuid('not-a-uuid secret'), { add: scoped, expectUuid: B }); } catch (e) { expect((e as Error).message).not.toContain('secret'); }
  });

  it('accepts the same uuid in any case, and a config.json without uuid', () => {
    expect(editSshKeys(withUuid(U.toUpperCase()), { add: scoped, expectUuid: U }).changed).toBe(true);
    expect(editSshKeys(JSON.stringify({ os: { sshKeys: [op] } }), { add: scoped, expectUuid: U }).changed).toBe(true);
  });
});

describe('keyFingerprint reads the key after the options (review #14 R6)', () => {
  const decoy = OTHER.publicKey.split(' ').slice(0, 2).join(' ');
  const sneaky = root.replace('principals="root" ', `principals="root",environment="X=1 ${decoy}" `).replace(/ fleetvault:\S+$/, ' admin');

  it('a key string inside a quoted option is not the line\'s key', () => {
    expect(keyFingerprint(sneaky)).toBe(CA.fingerprint);
    expect(keyFingerprint(`command="echo ${decoy}" ${CA.publicKey.split(' ').slice(0, 2).join(' ')} c`)).toBe(CA.fingerprint);
    expect(keyFingerprint(CA.publicKey)).toBe(CA.fingerprint);
    expect(keyFingerprint(`environment="K=${decoy}"`)).toBeUndefined();
    expect(trustedCas([sneaky])[0]).toMatchObject({ fingerprint: CA.fingerprint, principals: 'root' });
  });

  it('phase 2 of a migration removes such a line', () => {
    const r = editSshKeys(config([op, sneaky, scoped]), { add: scoped, removeFingerprints: [CA.fingerprint] });
    expect(r.sshKeys).toEqual([op, scoped]);
  });
});

// Review #14b: lines sshd honours that fleetvault used to read differently. sshd matches option
// names without case, skips `\"` when it looks for the end of the options, and ignores `#` lines.
describe('authorized_keys lines read as sshd reads them (review #14b)', () => {
  const U = '0123456789abcdef0123456789abcdef';
  const key = (k: { publicKey: string }) => k.publicKey.split(' ').slice(0, 2).join(' ');
  const upperOption = `CERT-AUTHORITY,principals="root" ${key(CA)} hidden`;
  const upperPrincipals = `cert-authority,PRINCIPALS="root" ${key(CA)} hidden`;
  const escaped = `cert-authority,principals="root",environment="A=\\" ${key(OTHER)} x" ${key(CA)} hidden`;
  const withUuid = (keys: string[], uuid: unknown = U) => JSON.stringify({ uuid, os: { sshKeys: keys } }, null, 2) + '\n';

  it('CERT-AUTHORITY / PRINCIPALS= in any case: a CA line of CA with principals root', () => {
    for (const l of [upperOption, upperPrincipals]) {
      expect(trustedCas([scoped, l])).toHaveLength(2);
      expect(trustedCas([l])[0]).toMatchObject({ fingerprint: CA.fingerprint, principals: 'root' });
    }
  });

  it('an escaped quote \\" inside a value: the key is the one after the options (as ssh-keygen -l reads it)', () => {
    expect(keyFingerprint(escaped)).toBe(CA.fingerprint);
    expect(trustedCas([escaped])[0]).toMatchObject({ fingerprint: CA.fingerprint, principals: 'root' });
  });

  it('phase 2 of a --scoped migration removes them', () => {
    for (const l of [upperOption, upperPrincipals, escaped]) {
      const r = editSshKeys(withUuid([op, scoped, l]), { add: scoped, removeFingerprints: [CA.fingerprint], expectUuid: U });
      expect(r.sshKeys).toEqual([op, scoped]);
    }
  });

  it('a hand-written CERT-AUTHORITY scoped line is guarded against a downgrade', () => {
    const handScoped = scoped.replace('cert-authority,', 'CERT-AUTHORITY,');
    expect(() => editSshKeys(config([handScoped]), { add: root })).toThrow(/for scoped principals only; refusing an unscoped line/);
  });

  it('a commented-out line is no trust (sshd skips lines starting with #)', () => {
    expect(trustedCas([`#${scoped}`, `  # ${root}`])).toEqual([]);
    // and phase 2 leaves comments alone
    expect(editSshKeys(config([`#${root}`, scoped]), { add: scoped, removeFingerprints: [CA.fingerprint] }).changed).toBe(false);
  });

  it('principals="break-glass" only is root-free: an unscoped line does not replace it silently', () => {
    const bg = authorizedKeyLine({ ...CA, principals: ['break-glass'] });
    expect(() => editSshKeys(config([bg]), { add: root })).toThrow(/for scoped principals only/);
    expect(editSshKeys(config([bg]), { add: root, unscope: true }).sshKeys).toEqual([root]);
  });

  it('a config.json uuid that is not a string is refused for a scoped line; nothing is echoed', () => {
    for (const uuid of [['f'.repeat(32)], { v: 'secret' }, 12345, null]) {
      expect(() => editSshKeys(withUuid([op], uuid), { add: scoped, expectUuid: U }, 'a:/c'))
        .toThrow(new RegExp(`^a:/c has a "uuid" that is not a string: refusing to write device ${U}'s scoped line .*left unchanged`));
    }
    try { editSshKeys(withUuid([op], { v: 'secret' }), { add: scoped, expectUuid: U }); } catch (e) { expect((e as Error).message).not.toContain('secret'); }
  });
});

// The same lines against a real sshd (root only: sshd as another user logs in only that user):
// what opens for a root certificate is exactly what fleetvault reads as root trust.
const sshdRoot = process.getuid?.() === 0 && spawnSync('test', ['-x', '/usr/sbin/sshd']).status === 0;
describe.runIf(sshdRoot)('real sshd agrees with the parser (review #14b)', () => {
  // Made in beforeAll, not at collection, and sshd runs in the foreground (-D) as our child: a
  // daemonized sshd's pid file could be read half-written, and a failed kill skipped the cleanup (CI
  // once found this dir left behind).
  let dir = '';
  const gen = (n: string) => { execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, n)]); return readFileSync(join(dir, `${n}.pub`), 'utf8').trim().split(' ').slice(0, 2).join(' '); };
  let sshd: ChildProcess | undefined;
  let caKey = '';
  let decoy = '';
  let port = 0;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fv-ak-'));
    caKey = gen('ca'); decoy = gen('decoy'); gen('user'); gen('host');
    execFileSync('ssh-keygen', ['-q', '-s', join(dir, 'ca'), '-I', 't', '-n', 'root', '-V', '+1h', join(dir, 'user.pub')]);
    port = await freePort();
    writeFileSync(join(dir, 'sshd_config'), [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${dir}/host`, `AuthorizedKeysFile ${dir}/ak`, 'StrictModes no', 'PidFile none', 'UsePAM no', 'PasswordAuthentication no'].join('\n') + '\n');
    const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
    sshd = child;
    await waitForPort('127.0.0.1', port, 5000, () => child.exitCode === null);
  });
  afterAll(async () => {
    const child = sshd;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const opens = (line: string) => {
    writeFileSync(join(dir, 'ak'), line + '\n');
    const r = spawnSync('ssh', ['-p', String(port), '-i', join(dir, 'user'), '-o', `CertificateFile=${dir}/user-cert.pub`, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-o', 'IdentitiesOnly=yes', 'root@127.0.0.1', 'echo', 'OPENED'], { timeout: 10000 });
    return r.stdout.toString().includes('OPENED');
  };
  const fp = () => keyFingerprint(caKey)!;

  it('CERT-AUTHORITY, PRINCIPALS=, an escaped quote: sshd opens for root, and fleetvault sees root trust of the CA', () => {
    for (const line of [`CERT-AUTHORITY,principals="root" ${caKey} x`, `cert-authority,PRINCIPALS="root" ${caKey} x`, `cert-authority,principals="root",environment="A=\\" ${decoy} y" ${caKey} x`]) {
      expect(opens(line), line).toBe(true);
      expect(trustedCas([line]), line).toEqual([expect.objectContaining({ fingerprint: fp(), principals: 'root' })]);
    }
  });

  it('a commented-out line: sshd does not open, fleetvault sees no trust', () => {
    const line = `#cert-authority,principals="root" ${caKey}`;
    expect(opens(line)).toBe(false);
    expect(trustedCas([line])).toEqual([]);
  });
});
