// editSshKeys' keepSameCa: phase 1 of a migration to scoped lines adds the scoped line next to the
// CA's principals="root" line instead of replacing it, so access that works today keeps working
// until the scoped line is proven; phase 2 (removeFingerprints of the same CA) drops the old one.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import sshpk from 'sshpk';
import { editSshKeys } from '../../../src/ca/config-json.js';
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
