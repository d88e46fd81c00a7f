// policies/*.hcl as a token of each persona sees them on a real OpenBao: the operations the persona
// needs succeed, everything else we could think of is refused with 403. Tokens come from the root
// token (auth/token/create with the persona's policy plus Vault's `default` policy, which every
// real login gets too), so the default policy cannot smuggle in a right either.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, describe, type VaultFixture } from '../../support/context.js';
import { VaultError } from '../../../src/errors.js';
import { policyName, type Persona } from '../../../src/vault/layout.js';

type Outcome = 'ok' | number;
type Ops = Record<string, (token: string) => Promise<unknown>>;

async function tokenFor(vault: VaultFixture, persona: Persona): Promise<string> {
  const r = await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, persona)], no_default_policy: false, ttl: '10m' });
  return r.auth!.client_token;
}

/** Every operation's outcome: 'ok' or the HTTP status Vault refused it with. */
async function outcomes(token: string, ops: Ops): Promise<Record<string, Outcome>> {
  const out: Record<string, Outcome> = {};
  for (const [name, op] of Object.entries(ops)) {
    try {
      await op(token);
      out[name] = 'ok';
    } catch (e) {
      if (!(e instanceof VaultError)) throw e;
      out[name] = e.status ?? -1;
    }
  }
  return out;
}

const CTX = Buffer.from('acme/sensors').toString('base64');
const OTHER_KEY = 'other-key';

/** Fixtures every persona is tried against: a second SSH role and transit key, a KV secret, a ciphertext. */
async function world(vault: VaultFixture, tmp: string) {
  const l = vault.layout;
  const r = vault.root;
  await r.write(`${l.sshMount}/roles/other`, { key_type: 'ca', allow_user_certificates: true, allowed_users: '*', ttl: 600, max_ttl: 600 });
  await r.write(`${l.transitMount}/keys/${OTHER_KEY}`, { type: 'aes256-gcm96', derived: true });
  await r.write(`${l.kvMount}/data/balena`, { data: { apiKey: 'not-a-real-key' } });
  const { ciphertext } = (await r.write<{ ciphertext: string }>(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext: 'aGk=', context: CTX })).data;
  const { ciphertext: otherCiphertext } = (await r.write<{ ciphertext: string }>(`${l.transitMount}/encrypt/${OTHER_KEY}`, { plaintext: 'aGk=', context: CTX })).data;
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'id')]);
  const publicKey = readFileSync(join(tmp, 'id.pub'), 'utf8');
  const audit = Object.keys((await r.read<Record<string, unknown>>('sys/audit')).data)[0]!.replace(/\/$/, '');
  return { l, r, ciphertext, otherCiphertext, publicKey, audit };
}

/** Operations nobody but an administrator may perform, tried for every persona. */
function adminOps(w: Awaited<ReturnType<typeof world>>): Ops {
  const { l, r } = w;
  const t = (token: string) => ({ token });
  return {
    'write a policy': (k) => r.write(`sys/policies/acl/${l.policyPrefix}-engineer`, { policy: 'path "*" { capabilities = ["sudo","create","read","update","delete","list"] }' }, t(k)),
    'delete a policy': (k) => r.delete(`sys/policies/acl/${l.policyPrefix}-flasher`, t(k)),
    'enable an auth method': (k) => r.write(`sys/auth/evil-${l.policyPrefix}`, { type: 'userpass' }, t(k)),
    'disable the approle auth': (k) => r.delete(`sys/auth/${l.approleMount}`, t(k)),
    'tune the approle auth': (k) => r.write(`sys/auth/${l.approleMount}/tune`, { audit_non_hmac_request_keys: ['secret_id'] }, t(k)),
    'mount a secrets engine': (k) => r.write(`sys/mounts/evil-${l.policyPrefix}`, { type: 'kv' }, t(k)),
    'retune the SSH mount': (k) => r.write(`sys/mounts/${l.sshMount}/tune`, { audit_non_hmac_request_keys: ['public_key'] }, t(k)),
    'read raw storage (CA private key)': (k) => r.read(`sys/raw/logical`, t(k)),
    'replace the SSH CA': (k) => r.write(`${l.sshMount}/config/ca`, { generate_signing_key: true }, t(k)),
    'delete the SSH CA': (k) => r.delete(`${l.sshMount}/config/ca`, t(k)),
    'export the transit key': (k) => r.read(`${l.transitMount}/export/encryption-key/${l.transitKey}`, t(k)),
    'back up the transit key': (k) => r.read(`${l.transitMount}/backup/${l.transitKey}`, t(k)),
    'delete the transit key': (k) => r.delete(`${l.transitMount}/keys/${l.transitKey}`, t(k)),
    'rewrite the flasher AppRole role': (k) => r.write(`auth/${l.approleMount}/role/${l.approleRole}`, { token_policies: ['root'], secret_id_bound_cidrs: [] }, t(k)),
    'disable an audit device': (k) => r.delete(`sys/audit/${w.audit}`, t(k)),
    'enable an audit device': (k) => r.write(`sys/audit/evil-${l.policyPrefix}`, { type: 'file', options: { file_path: '/tmp/x' } }, t(k)),
    'create a token with other policies': (k) => r.write('auth/token/create', { policies: [`${l.policyPrefix}-operator`] }, t(k)),
  };
}

function denied(ops: Ops): Record<string, Outcome> {
  return Object.fromEntries(Object.keys(ops).map((k) => [k, 403]));
}

describe('persona policies (policies/*.hcl)', () => {
  test('engineer: signs with its role and reads the CA; nothing else', async ({ vault, tmp }) => {
    const w = await world(vault, tmp);
    const { l, r } = w;
    const token = await tokenFor(vault, 'engineer');
    const t = { token };
    const allowed: Ops = {
      'sign with role engineer': () => r.write(`${l.sshMount}/sign/${l.sshRole}`, { public_key: w.publicKey, valid_principals: 'root' }, t),
      'read its role (max_ttl)': () => r.read(`${l.sshMount}/roles/${l.sshRole}`, t),
      'read the CA public key': () => r.read(`${l.sshMount}/config/ca`, t),
    };
    const forbidden: Ops = {
      'sign with another role': () => r.write(`${l.sshMount}/sign/other`, { public_key: w.publicKey, valid_principals: 'admin' }, t),
      'write its role': () => r.write(`${l.sshMount}/roles/${l.sshRole}`, { key_type: 'ca', allowed_users: '*' }, t),
      'create a role': () => r.write(`${l.sshMount}/roles/mine`, { key_type: 'ca', allowed_users: '*' }, t),
      'read another role': () => r.read(`${l.sshMount}/roles/other`, t),
      'list roles': () => r.list(`${l.sshMount}/roles`, t),
      'transit encrypt': () => r.write(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext: 'aGk=', context: CTX }, t),
      'transit decrypt': () => r.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t),
      'read the transit key': () => r.read(`${l.transitMount}/keys/${l.transitKey}`, t),
      'read the flasher role id': () => r.read(`auth/${l.approleMount}/role/${l.approleRole}/role-id`, t),
      'mint a flasher secret id': () => r.write(`auth/${l.approleMount}/role/${l.approleRole}/secret-id`, {}, t),
      'read the balena API key': () => r.read(`${l.kvMount}/data/balena`, t),
      'audit-hash': () => r.write(`sys/audit-hash/${w.audit}`, { input: 'x' }, t),
      ...adminOps(w),
    };
    expect(await outcomes(token, allowed)).toEqual(Object.fromEntries(Object.keys(allowed).map((k) => [k, 'ok'])));
    expect(await outcomes(token, forbidden)).toEqual(denied(forbidden));
  });

  test('operator: manages roles, seals and rewraps, runs batches; cannot decrypt or administer Vault', async ({ vault, tmp }) => {
    const w = await world(vault, tmp);
    const { l, r } = w;
    const token = await tokenFor(vault, 'operator');
    const t = { token };
    const allowed: Ops = {
      'write an SSH role': () => r.write(`${l.sshMount}/roles/canary`, { key_type: 'ca', allow_user_certificates: true, allowed_users: 'root', ttl: 300, max_ttl: 300 }, t),
      'read the CA public key': () => r.read(`${l.sshMount}/config/ca`, t),
      'transit encrypt': () => r.write(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext: 'aGk=', context: CTX }, t),
      'transit rewrap': () => r.write(`${l.transitMount}/rewrap/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t),
      'read the transit key': () => r.read(`${l.transitMount}/keys/${l.transitKey}`, t),
      'read the flasher role id': () => r.read(`auth/${l.approleMount}/role/${l.approleRole}/role-id`, t),
      'mint a flasher secret id': () => r.write(`auth/${l.approleMount}/role/${l.approleRole}/secret-id`, { metadata: JSON.stringify({ batch: 'b1' }) }, t),
      'read the balena API key': () => r.read(`${l.kvMount}/data/balena`, t),
      'audit-hash': () => r.write(`sys/audit-hash/${w.audit}`, { input: 'x' }, t),
    };
    const forbidden: Ops = {
      'transit decrypt': () => r.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t),
      'transit decrypt with another key': () => r.write(`${l.transitMount}/decrypt/${OTHER_KEY}`, { ciphertext: w.otherCiphertext, context: CTX }, t),
      'encrypt with another key': () => r.write(`${l.transitMount}/encrypt/${OTHER_KEY}`, { plaintext: 'aGk=', context: CTX }, t),
      'write the balena API key': () => r.write(`${l.kvMount}/data/balena`, { data: { apiKey: 'evil' } }, t),
      'list audit devices': () => r.read('sys/audit', t),
      ...adminOps(w),
    };
    expect(await outcomes(token, allowed)).toEqual(Object.fromEntries(Object.keys(allowed).map((k) => [k, 'ok'])));
    expect(await outcomes(token, forbidden)).toEqual(denied(forbidden));
  });

  test('flasher: decrypts with the provisioning key and does nothing else', async ({ vault, tmp }) => {
    const w = await world(vault, tmp);
    const { l, r } = w;
    const token = await tokenFor(vault, 'flasher');
    const t = { token };
    const plain = await r.write<{ plaintext: string }>(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t);
    expect(plain.data.plaintext).toBe('aGk=');
    const forbidden: Ops = {
      'transit encrypt': () => r.write(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext: 'aGk=', context: CTX }, t),
      'transit rewrap': () => r.write(`${l.transitMount}/rewrap/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t),
      'decrypt with another key': () => r.write(`${l.transitMount}/decrypt/${OTHER_KEY}`, { ciphertext: w.otherCiphertext, context: CTX }, t),
      'read the transit key': () => r.read(`${l.transitMount}/keys/${l.transitKey}`, t),
      'rotate the transit key': () => r.write(`${l.transitMount}/keys/${l.transitKey}/rotate`, {}, t),
      'sign an SSH certificate': () => r.write(`${l.sshMount}/sign/${l.sshRole}`, { public_key: w.publicKey, valid_principals: 'root' }, t),
      'read the CA config': () => r.read(`${l.sshMount}/config/ca`, t),
      'read the balena API key': () => r.read(`${l.kvMount}/data/balena`, t),
      'mint a flasher secret id': () => r.write(`auth/${l.approleMount}/role/${l.approleRole}/secret-id`, {}, t),
      'audit-hash': () => r.write(`sys/audit-hash/${w.audit}`, { input: 'x' }, t),
      ...adminOps(w),
    };
    expect(await outcomes(token, forbidden)).toEqual(denied(forbidden));
  });

  test('auditor: lists audit devices and hashes values; nothing else', async ({ vault, tmp }) => {
    const w = await world(vault, tmp);
    const { l, r } = w;
    const token = await tokenFor(vault, 'auditor');
    const t = { token };
    const devices = await r.read<Record<string, { type: string }>>('sys/audit', t);
    expect(Object.values(devices.data).map((d) => d.type)).toContain('file');
    const hash = await r.write<{ hash: string }>(`sys/audit-hash/${w.audit}`, { input: 'serial-1234' }, t);
    expect(hash.data.hash).toMatch(/^hmac-sha256:/);
    const forbidden: Ops = {
      'sign an SSH certificate': () => r.write(`${l.sshMount}/sign/${l.sshRole}`, { public_key: w.publicKey, valid_principals: 'root' }, t),
      'read an SSH role': () => r.read(`${l.sshMount}/roles/${l.sshRole}`, t),
      'transit encrypt': () => r.write(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext: 'aGk=', context: CTX }, t),
      'transit decrypt': () => r.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t),
      'read the transit key': () => r.read(`${l.transitMount}/keys/${l.transitKey}`, t),
      'read the flasher role': () => r.read(`auth/${l.approleMount}/role/${l.approleRole}`, t),
      'read the balena API key': () => r.read(`${l.kvMount}/data/balena`, t),
      'read a policy': () => r.read(`sys/policies/acl/${l.policyPrefix}-operator`, t),
      'list mounts': () => r.read('sys/mounts', t),
      ...adminOps(w),
    };
    expect(await outcomes(token, forbidden)).toEqual(denied(forbidden));
  });
});
