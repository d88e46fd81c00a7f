// editSshKeys' keepSameCa: phase 1 of a migration to scoped lines adds the scoped line next to the
// CA's principals="root" line instead of replacing it, so access that works today keeps working
// until the scoped line is proven; phase 2 (removeFingerprints of the same CA) drops the old one.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import sshpk from 'sshpk';
import { editSshKeys, keyFingerprint, trustedCas } from '../../../src/ca/config-json.js';
import { authorizedKeyLine } from '../../../src/ca/authorized-key.js';

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
