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

/** An SSH CA key made outside Vault: what an attacker would import. */
function offlineCaKey(tmp: string): { privateKey: string; publicKey: string } {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'offline-ca')]);
  return { privateKey: readFileSync(join(tmp, 'offline-ca'), 'utf8'), publicKey: readFileSync(join(tmp, 'offline-ca.pub'), 'utf8') };
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

  test('engineer: the role allows only the critical option fleetvault asks for (source-address); force-command is refused', async ({ vault, tmp }) => {
    const w = await world(vault, tmp);
    const { l, r } = w;
    const t = { token: await tokenFor(vault, 'engineer') };
    // An empty allowed_critical_options would mean "any" to Vault (issue 11 item 5).
    expect((await r.read(`${l.sshMount}/roles/${l.sshRole}`)).data.allowed_critical_options).toBe('source-address');
    const sign = (critical_options: Record<string, string>) => r.write(`${l.sshMount}/sign/${l.sshRole}`, { public_key: w.publicKey, valid_principals: 'root', critical_options }, t);
    await expect(sign({ 'source-address': '127.0.0.1/32' })).resolves.toBeDefined();
    // The role, not the policy, refuses these (the policy cannot match a map's keys): 400.
    const refused: Record<string, string>[] = [{ 'force-command': '/bin/sh' }, { 'verify-required': '' }, { 'source-address': '0.0.0.0/0', 'force-command': 'id' }];
    for (const opts of refused) {
      await expect(sign(opts), JSON.stringify(opts)).rejects.toMatchObject({ status: 400 });
    }
  });

  test('operator: rotates the CA, seals and rewraps, watches and revokes batches; cannot import a CA key, write roles, mint secret_ids or decrypt', async ({ vault, tmp }) => {
    const w = await world(vault, tmp);
    const { l, r } = w;
    const token = await tokenFor(vault, 'operator');
    const t = { token };
    // A batch made by root (creating one is the admin's): its own role with one secret_id.
    const batchRole = `${l.approleRole}-b1`;
    await r.write(`auth/${l.approleMount}/role/${batchRole}`, { token_policies: ['default'], secret_id_num_uses: 2, secret_id_ttl: 600 });
    const batchAccessor = (await r.write<{ secret_id_accessor: string }>(`auth/${l.approleMount}/role/${batchRole}/secret-id`, { metadata: JSON.stringify({ batch: 'b1' }) })).data.secret_id_accessor;
    const stamp = `fleetvault-20260101-${String(Date.now() % 1_000_000).padStart(6, '0')}`;
    const previous = (await r.read<{ default: string }>(`${l.sshMount}/config/issuers`)).data.default;
    const { privateKey, publicKey: caPublicKey } = offlineCaKey(tmp);
    // Exactly the calls `fleetvault ca rotate` makes (src/ca/rotate*.ts), in its order.
    let newIssuer = '';
    const allowed: Ops = {
      'read the CA public key': () => r.read(`${l.sshMount}/config/ca`, t),
      'read the engineer role (max_ttl)': () => r.read(`${l.sshMount}/roles/${l.sshRole}`, t),
      'rotate: list issuers': () => r.list(`${l.sshMount}/issuers`, t),
      'rotate: read the default issuer': () => r.read(`${l.sshMount}/config/issuers`, t),
      'rotate: generate an issuer inside Vault, not default': async () => {
        newIssuer = (await r.write<{ issuer_id: string }>(`${l.sshMount}/issuers/import/${stamp}`, { generate_signing_key: true, key_type: 'ed25519', set_default: false }, t)).data.issuer_id;
      },
      'rotate: read the new issuer': () => r.read(`${l.sshMount}/issuer/${stamp}`, t),
      'rotate: switch the default issuer': () => r.write(`${l.sshMount}/config/issuers`, { default: newIssuer }, t),
      'rotate: switch back after a failed verification': () => r.write(`${l.sshMount}/config/issuers`, { default: previous }, t),
      'sign with role engineer (verification)': () => r.write(`${l.sshMount}/sign/${l.sshRole}`, { public_key: w.publicKey, valid_principals: 'root' }, t),
      'transit encrypt': () => r.write(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext: 'aGk=', context: CTX }, t),
      'transit rewrap': () => r.write(`${l.transitMount}/rewrap/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t),
      'read the transit key': () => r.read(`${l.transitMount}/keys/${l.transitKey}`, t),
      'retire old key versions': () => r.write(`${l.transitMount}/keys/${l.transitKey}/config`, { min_decryption_version: 1 }, t),
      'list batch roles': () => r.list(`auth/${l.approleMount}/role`, t),
      'list a batch\'s secret ids': () => r.list(`auth/${l.approleMount}/role/${batchRole}/secret-id`, t),
      'look up a batch secret id': () => r.write(`auth/${l.approleMount}/role/${batchRole}/secret-id-accessor/lookup`, { secret_id_accessor: batchAccessor }, t),
      'read a batch role id (reconcile)': () => r.read(`auth/${l.approleMount}/role/${batchRole}/role-id`, t),
      'revoke a batch (destroy its secret id)': () => r.write(`auth/${l.approleMount}/role/${batchRole}/secret-id-accessor/destroy`, { secret_id_accessor: batchAccessor }, t),
      'read the balena API key': () => r.read(`${l.kvMount}/data/balena`, t),
      'audit-hash': () => r.write(`sys/audit-hash/${w.audit}`, { input: 'x' }, t),
    };
    const forbidden: Ops = {
      // Issue 11 item 1: a CA whose private key the operator knows.
      'import an issuer with a private_key (rotate\'s name)': () => r.write(`${l.sshMount}/issuers/import/fleetvault-20250101-000000`, { generate_signing_key: false, private_key: privateKey, public_key: caPublicKey, set_default: false }, t),
      'import an issuer with a private_key (any name)': () => r.write(`${l.sshMount}/issuers/import/evil`, { private_key: privateKey, public_key: caPublicKey }, t),
      'import an issuer with a private_key (no name)': () => r.write(`${l.sshMount}/issuers/import`, { private_key: privateKey, public_key: caPublicKey }, t),
      'generate an issuer under a name rotate does not use': () => r.write(`${l.sshMount}/issuers/import/evil`, { generate_signing_key: true, key_type: 'ed25519', set_default: false }, t),
      'generate an issuer straight into the default': () => r.write(`${l.sshMount}/issuers/import/${stamp}-2`, { generate_signing_key: true, key_type: 'ed25519', set_default: true }, t),
      'replace the CA with a known private key (config/ca)': () => r.write(`${l.sshMount}/config/ca`, { private_key: privateKey, public_key: caPublicKey }, t),
      'rename an issuer': () => r.write(`${l.sshMount}/issuer/${previous}`, { issuer_name: 'fleetvault-20990101-000000' }, t),
      // Review of issue 11, item 3: a policy cannot tell the signing issuer from an old one.
      'delete the default (signing) issuer': () => r.delete(`${l.sshMount}/issuer/${previous}`, t),
      'delete a non-default issuer': () => r.delete(`${l.sshMount}/issuer/${newIssuer}`, t),
      'set config/issuers beyond the default': () => r.write(`${l.sshMount}/config/issuers`, { default: previous, default_follows_latest_issuer: true }, t),
      // Issue 11 item 2: unconstrained parameters.
      'mint a flasher secret id': () => r.write(`auth/${l.approleMount}/role/${l.approleRole}/secret-id`, { metadata: JSON.stringify({ batch: 'b2' }) }, t),
      'mint an unlimited, never-expiring secret id': () => r.write(`auth/${l.approleMount}/role/${l.approleRole}/secret-id`, { num_uses: 0, ttl: 0 }, t),
      'mint another secret id on a batch role': () => r.write(`auth/${l.approleMount}/role/${batchRole}/secret-id`, { num_uses: 0, ttl: 0 }, t),
      'create a batch role': () => r.write(`auth/${l.approleMount}/role/${l.approleRole}-mine`, { token_policies: [`${l.policyPrefix}-flasher`] }, t),
      'rewrite a batch role': () => r.write(`auth/${l.approleMount}/role/${batchRole}`, { secret_id_num_uses: 0, secret_id_ttl: 0 }, t),
      'create an SSH role for any user': () => r.write(`${l.sshMount}/roles/canary`, { key_type: 'ca', allow_user_certificates: true, allowed_users: '*', max_ttl: '768h', allowed_extensions: 'permit-port-forwarding,permit-agent-forwarding' }, t),
      'rewrite the engineer role': () => r.write(`${l.sshMount}/roles/${l.sshRole}`, { key_type: 'ca', allow_user_certificates: true, allowed_users: '*', max_ttl: '768h' }, t),
      'delete the engineer role': () => r.delete(`${l.sshMount}/roles/${l.sshRole}`, t),
      'make the transit key deletable': () => r.write(`${l.transitMount}/keys/${l.transitKey}/config`, { deletion_allowed: true }, t),
      'make the transit key exportable': () => r.write(`${l.transitMount}/keys/${l.transitKey}/config`, { exportable: true }, t),
      'unlock a locked-out role': () => r.write(`sys/locked-users/x/unlock/y`, {}, t),
      'transit decrypt': () => r.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t),
      'transit decrypt with another key': () => r.write(`${l.transitMount}/decrypt/${OTHER_KEY}`, { ciphertext: w.otherCiphertext, context: CTX }, t),
      'encrypt with another key': () => r.write(`${l.transitMount}/encrypt/${OTHER_KEY}`, { plaintext: 'aGk=', context: CTX }, t),
      'write the balena API key': () => r.write(`${l.kvMount}/data/balena`, { data: { apiKey: 'evil' } }, t),
      'list audit devices': () => r.read('sys/audit', t),
      ...adminOps(w),
    };
    expect(await outcomes(token, allowed)).toEqual(Object.fromEntries(Object.keys(allowed).map((k) => [k, 'ok'])));
    expect(await outcomes(token, forbidden)).toEqual(denied(forbidden));
    // Nothing the refused calls tried took effect; the generated issuer is still there (root removes it).
    const issuers = await r.list(`${l.sshMount}/issuers`);
    expect(issuers.sort()).toEqual([previous, newIssuer].sort());
    await r.delete(`${l.sshMount}/issuer/${newIssuer}`);
    expect((await r.read<{ default: string }>(`${l.sshMount}/config/issuers`)).data.default).toBe(previous);
  });

  test('admin: runs init and creates batches; still no audit, raw storage, other mounts, key export or arbitrary tokens', async ({ vault, tmp }) => {
    const w = await world(vault, tmp);
    const { l, r } = w;
    const token = await tokenFor(vault, 'admin');
    const t = { token };
    const { bootstrapVault } = await import('../../../src/vault/bootstrap.js');
    const { VaultClient } = await import('../../../src/vault/client.js');
    const asAdmin = new VaultClient({ address: vault.address, token });
    // init as the admin: reads everything, finds nothing to change.
    expect((await bootstrapVault({ client: asAdmin, layout: l, factoryCidrs: ['127.0.0.0/8'] })).changes).toEqual([]);
    const allowed: Ops = {
      'write an SSH role': () => r.write(`${l.sshMount}/roles/canary`, { key_type: 'ca', allow_user_certificates: true, allowed_users: 'root', ttl: 300, max_ttl: 300 }, t),
      'tune the approle auth (lockout)': () => r.write(`sys/auth/${l.approleMount}/tune`, { user_lockout_config: { lockout_disable: true } }, t),
      'write a batch policy': () => r.write(`sys/policies/acl/${l.policyPrefix}-batch-x`, { policy: 'path "x" { capabilities = ["read"] }' }, t),
      'create a batch role': () => r.write(`auth/${l.approleMount}/role/${l.approleRole}-x`, { token_policies: [`${l.policyPrefix}-batch-x`] }, t),
      'mint its secret id': () => r.write(`auth/${l.approleMount}/role/${l.approleRole}-x/secret-id`, {}, t),
      'delete the batch role': () => r.delete(`auth/${l.approleMount}/role/${l.approleRole}-x`, t),
      'delete the batch policy': () => r.delete(`sys/policies/acl/${l.policyPrefix}-batch-x`, t),
      'keep the transit key undeletable (false)': () => r.write(`${l.transitMount}/keys/${l.transitKey}/config`, { deletion_allowed: false, exportable: false, allow_plaintext_backup: false }, t),
      'retire old transit key versions': () => r.write(`${l.transitMount}/keys/${l.transitKey}/config`, { min_decryption_version: 1 }, t),
      'delete an old SSH issuer (operator cannot)': async () => {
        const id = (await r.write<{ issuer_id: string }>(`${l.sshMount}/issuers/import/fleetvault-20260101-000001`, { generate_signing_key: true, key_type: 'ed25519', set_default: false }, t)).data.issuer_id;
        await r.delete(`${l.sshMount}/issuer/${id}`, t);
      },
    };
    const forbidden: Ops = {
      'read raw storage (CA private key)': () => r.read('sys/raw/logical', t),
      'disable an audit device': () => r.delete(`sys/audit/${w.audit}`, t),
      'enable an audit device': () => r.write(`sys/audit/evil-${l.policyPrefix}`, { type: 'file', options: { file_path: '/tmp/x' } }, t),
      'write a policy outside the prefix': () => r.write('sys/policies/acl/evil', { policy: 'path "*" { capabilities = ["sudo","read"] }' }, t),
      'mount another secrets engine': () => r.write(`sys/mounts/evil-${l.policyPrefix}`, { type: 'kv' }, t),
      'enable another auth method': () => r.write(`sys/auth/evil-${l.policyPrefix}`, { type: 'userpass' }, t),
      'disable the approle auth': () => r.delete(`sys/auth/${l.approleMount}`, t),
      'unmount the SSH CA': () => r.delete(`sys/mounts/${l.sshMount}`, t),
      'export the transit key': () => r.read(`${l.transitMount}/export/encryption-key/${l.transitKey}`, t),
      'back up the transit key': () => r.read(`${l.transitMount}/backup/${l.transitKey}`, t),
      'delete the transit key': () => r.delete(`${l.transitMount}/keys/${l.transitKey}`, t),
      'make the transit key deletable': () => r.write(`${l.transitMount}/keys/${l.transitKey}/config`, { deletion_allowed: true }, t),
      // Review of issue 11, item 4: Vault parses "1", "t" and 1 as true; a deny-list of [true, "true"] let them through.
      ...Object.fromEntries((['deletion_allowed', 'exportable', 'allow_plaintext_backup'] as const).flatMap((f) =>
        ([true, 'true', '1', 't', 'T', 'True', 1] as const).map((v) => [`config ${f}=${JSON.stringify(v)}`, () => r.write(`${l.transitMount}/keys/${l.transitKey}/config`, { [f]: v }, t)]))),
      ...Object.fromEntries((['exportable', 'allow_plaintext_backup'] as const).flatMap((f) =>
        (['1', 't', 1] as const).map((v) => [`key write ${f}=${JSON.stringify(v)}`, () => r.write(`${l.transitMount}/keys/${l.transitKey}`, { type: 'aes256-gcm96', derived: true, [f]: v }, t)]))),
      'transit decrypt': () => r.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t),
      'create a token with other policies': () => r.write('auth/token/create', { policies: [`${l.policyPrefix}-operator`] }, t),
    };
    expect(await outcomes(token, allowed)).toEqual(Object.fromEntries(Object.keys(allowed).map((k) => [k, 'ok'])));
    expect(await outcomes(token, forbidden)).toEqual(denied(forbidden));
    const key = (await r.read<Record<string, unknown>>(`${l.transitMount}/keys/${l.transitKey}`)).data;
    expect([key.deletion_allowed, key.exportable, key.allow_plaintext_backup]).toEqual([false, false, false]);
  });

  test('init reports an exportable or backup-able transit key as drift that needs a new key (Vault cannot undo either)', async ({ vault }) => {
    const { bootstrapVault } = await import('../../../src/vault/bootstrap.js');
    const l = vault.layout;
    const keyPath = `${l.transitMount}/keys/${l.transitKey}`;
    await vault.root.write(`${keyPath}/config`, { allow_plaintext_backup: true, exportable: true, deletion_allowed: true });
    const dry = (await bootstrapVault({ client: vault.root, layout: l, dryRun: true })).changes;
    expect(dry).toEqual([
      { kind: 'transit-key', path: `${keyPath}/config`, action: 'updated', fields: ['deletion_allowed'] },
      { kind: 'transit-key', path: keyPath, action: 'drift', fields: ['exportable', 'allow_plaintext_backup'], detail: expect.stringMatching(/exportable=true and allow_plaintext_backup=true, which Vault cannot undo.*create a new key/) },
    ]);
    await bootstrapVault({ client: vault.root, layout: l });
    const key = (await vault.root.read<Record<string, unknown>>(keyPath)).data;
    expect(key.deletion_allowed).toBe(false);
    // Still drift on every run: a human must replace the key.
    expect((await bootstrapVault({ client: vault.root, layout: l, dryRun: true })).changes.map((c) => c.action)).toEqual(['drift']);
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

  test('factory batch: decrypts its own fleets\' envelopes and nothing else (issue 11 item 4)', async ({ vault, tmp }) => {
    const w = await world(vault, tmp);
    const { l, r } = w;
    const { batchPolicyName, batchPolicyText } = await import('../../../src/provision/batch.js');
    const policy = batchPolicyName(l.policyPrefix, 'personas');
    await r.write(`sys/policies/acl/${policy}`, { policy: batchPolicyText({ transitMount: l.transitMount, transitKey: l.transitKey, fleets: ['acme/sensors', 'acme/other'] }) });
    const token = (await r.write('auth/token/create', { policies: [policy], ttl: '10m' })).auth!.client_token;
    const t = { token };
    const otherFleet = Buffer.from('acme/b').toString('base64');
    const { ciphertext: bCiphertext } = (await r.write<{ ciphertext: string }>(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext: 'aGk=', context: otherFleet })).data;
    const plain = await r.write<{ plaintext: string }>(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX }, t);
    expect(plain.data.plaintext).toBe('aGk=');
    const forbidden: Ops = {
      'decrypt another fleet\'s envelope': () => r.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: bCiphertext, context: otherFleet }, t),
      'decrypt through batch_input': () => r.write(`${l.transitMount}/decrypt/${l.transitKey}`, { batch_input: [{ ciphertext: bCiphertext, context: otherFleet }] }, t),
      'batch_input next to an allowed context': () => r.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: w.ciphertext, context: CTX, batch_input: [{ ciphertext: bCiphertext, context: otherFleet }] }, t),
      'decrypt without a context': () => r.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext: w.ciphertext }, t),
      'decrypt with another key': () => r.write(`${l.transitMount}/decrypt/${OTHER_KEY}`, { ciphertext: w.otherCiphertext, context: CTX }, t),
      'transit encrypt': () => r.write(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext: 'aGk=', context: CTX }, t),
      'sign an SSH certificate': () => r.write(`${l.sshMount}/sign/${l.sshRole}`, { public_key: w.publicKey, valid_principals: 'root' }, t),
      'mint a flasher secret id': () => r.write(`auth/${l.approleMount}/role/${l.approleRole}/secret-id`, {}, t),
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
