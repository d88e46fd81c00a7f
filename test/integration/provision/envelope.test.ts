// Sealed config.json envelopes against the real OpenBao: round trip, and every way an envelope
// must be refused — by Vault (exit 2) or locally (exit 1) — with nothing written.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, describe } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { buildDiskImage, mtoolsRead } from '../../support/disk-image.js';

const CONFIG = {
  applicationId: 1001, deviceType: 'raspberrypi4-64', apiKey: 'provisioning-key-0123456789',
  apiEndpoint: 'https://api.balena-cloud.com', os: { sshKeys: [] }, unicode: 'ünïcødé',
};

async function seal(env: Record<string, string>, tmp: string, fleet = 'acme/sensors', name = 'config') {
  const plain = join(tmp, `${name}.json`);
  writeFileSync(plain, JSON.stringify(CONFIG, null, 2));
  const out = join(tmp, `${name}.sealed.json`);
  const r = await runCli(['provision', 'seal', plain, '--fleet', fleet, '--out', out, '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  return { plain, sealed: out, envelope: JSON.parse(readFileSync(out, 'utf8')) };
}

function expectOneLine(stderr: string) {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toMatch(/^fleetvault: failed to /);
}

describe('provision seal/unseal', () => {
  test('round trip gives the same JSON, written 0600', async ({ vault, tmp }) => {
    const { plain, sealed, envelope } = await seal(vault.env, tmp);
    expect(envelope).toMatchObject({ format: 'fleetvault-sealed-config', version: 1, mount: vault.layout.transitMount, key: vault.layout.transitKey, keyVersion: 1, fleet: 'acme/sensors' });
    expect(envelope.ciphertext).toMatch(/^vault:v1:/);
    expect(readFileSync(sealed, 'utf8')).not.toContain('provisioning-key');
    const out = join(tmp, 'unsealed.json');
    const r = await runCli(['provision', 'unseal', sealed, '--out', out], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out)).toEqual(readFileSync(plain));
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(CONFIG);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  test('seal refuses input that is not a JSON object and writes nothing', async ({ vault, tmp }) => {
    for (const [name, text] of [['array', '[1,2]'], ['broken', '{"a":'], ['string', '"x"']] as const) {
      const f = join(tmp, `${name}.json`);
      writeFileSync(f, text);
      const r = await runCli(['provision', 'seal', f, '--fleet', 'acme/sensors'], { env: vault.env });
      expect(r.code).toBe(1);
      expectOneLine(r.stderr);
      expect(existsSync(join(tmp, `${name}.sealed.json`))).toBe(false);
    }
  });

  test('Vault refuses a flipped ciphertext character, another fleet, a retired version and a wrong key — nothing written', async ({ vault, tmp }) => {
    const { sealed, envelope } = await seal(vault.env, tmp);
    const out = join(tmp, 'never.json');
    const tamper = async (name: string, e: Record<string, unknown>) => {
      const f = join(tmp, `${name}.sealed.json`);
      writeFileSync(f, JSON.stringify(e));
      const r = await runCli(['provision', 'unseal', f, '--out', out], { env: vault.env });
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expectOneLine(r.stderr);
      expect(r.stderr).toMatch(/Vault refused to decrypt/);
      expect(existsSync(out)).toBe(false);
    };
    const ct: string = envelope.ciphertext;
    const i = 'vault:v1:'.length + 10;
    await tamper('flipped', { ...envelope, ciphertext: ct.slice(0, i) + (ct[i] === 'A' ? 'B' : 'A') + ct.slice(i + 1) });
    await tamper('other-fleet', { ...envelope, fleet: 'acme/other' });
    // Another derived key in the same mount: same shape, different key material.
    await vault.root.write(`${vault.layout.transitMount}/keys/other-key`, { type: 'aes256-gcm96', derived: true });
    await tamper('wrong-key', { ...envelope, key: 'other-key' });
    // Rotation + min_decryption_version retires v1.
    await vault.root.write(`${vault.layout.transitMount}/keys/${vault.layout.transitKey}/rotate`, {});
    await vault.root.write(`${vault.layout.transitMount}/keys/${vault.layout.transitKey}/config`, { min_decryption_version: 2 });
    await tamper('retired', envelope);
    const r = await runCli(['provision', 'unseal', sealed, '--out', out], { env: vault.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/too old|disallowed|min/i);
    expect(readdirSync(tmp).filter((f) => !f.endsWith('.json'))).toEqual([]);
  });

  test('malformed envelopes are refused locally with one line, exit 1, nothing written', async ({ vault, tmp }) => {
    const { envelope } = await seal(vault.env, tmp);
    const text = JSON.stringify(envelope);
    const { ciphertext: _c, ...noCiphertext } = envelope;
    const cases: Record<string, string> = {
      truncated: text.slice(0, text.length - 20),
      empty: '',
      array: '[]',
      'wrong-format': JSON.stringify({ ...envelope, format: 'something-else' }),
      'wrong-version': JSON.stringify({ ...envelope, version: 2 }),
      'missing-field': JSON.stringify(noCiphertext),
      'non-vault-ciphertext': JSON.stringify({ ...envelope, ciphertext: 'aGVsbG8gd29ybGQ=' }),
      'version-mismatch': JSON.stringify({ ...envelope, keyVersion: 3 }),
      'path-in-mount': JSON.stringify({ ...envelope, mount: '../sys' }),
      'extra-field': JSON.stringify({ ...envelope, plaintext: 'x' }),
    };
    const out = join(tmp, 'never.json');
    for (const [name, body] of Object.entries(cases)) {
      const f = join(tmp, `${name}.sealed.json`);
      writeFileSync(f, body);
      const r = await runCli(['provision', 'unseal', f, '--out', out], { env: vault.env });
      expect(r.code, `${name}: ${r.stderr}`).toBe(1);
      expectOneLine(r.stderr);
      expect(r.stderr).toContain(f);
      expect(existsSync(out)).toBe(false);
    }
    const missing = await runCli(['provision', 'unseal', join(tmp, 'nope.json'), '--out', out], { env: vault.env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file/);
  });

  test('unseal --image writes config.json into the FAT boot partition of a real image', async ({ vault, tmp }) => {
    const { sealed } = await seal(vault.env, tmp);
    const img = buildDiskImage(tmp, { files: { 'config.json': readFileSync(sealed) } });
    const before = readdirSync(tmp).sort();
    const r = await runCli(['provision', 'unseal', sealed, '--image', img.path, '--json'], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ path: `${img.path}:/config.json`, fleet: 'acme/sensors' });
    // Read back with mtools, an independent FAT implementation.
    expect(JSON.parse(mtoolsRead(img, 'config.json').toString('utf8'))).toEqual(CONFIG);
    // No plaintext file appeared next to the image.
    expect(readdirSync(tmp).sort()).toEqual(before);
    // A file that is not a disk image: exit 1 before Vault is asked.
    const notImage = join(tmp, 'not.img');
    writeFileSync(notImage, 'garbage');
    const bad = await runCli(['provision', 'unseal', sealed, '--image', notImage], { env: vault.env });
    expect(bad.code).toBe(1);
    expectOneLine(bad.stderr);
  });
});

describe('provision rewrap', () => {
  test('moves envelopes to the newest version in one request; retired copies stop working', async ({ vault, tmp }) => {
    const a = await seal(vault.env, tmp, 'acme/a', 'a');
    const b = await seal(vault.env, tmp, 'acme/b', 'b');
    const oldA = readFileSync(a.sealed, 'utf8');
    await vault.root.write(`${vault.layout.transitMount}/keys/${vault.layout.transitKey}/rotate`, {});
    const r = await runCli(['provision', 'rewrap', a.sealed, b.sealed, '--json'], { env: vault.env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { path: a.sealed, fleet: 'acme/a', fromVersion: 1, toVersion: 2 },
      { path: b.sealed, fleet: 'acme/b', fromVersion: 1, toVersion: 2 },
    ]);
    const newA = JSON.parse(readFileSync(a.sealed, 'utf8'));
    expect(newA).toMatchObject({ keyVersion: 2, fleet: 'acme/a', createdAt: a.envelope.createdAt });
    expect(newA.ciphertext).toMatch(/^vault:v2:/);
    await vault.root.write(`${vault.layout.transitMount}/keys/${vault.layout.transitKey}/config`, { min_decryption_version: 2 });
    const ok = await runCli(['provision', 'unseal', a.sealed, '--out', join(tmp, 'a.out.json')], { env: vault.env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(tmp, 'a.out.json'), 'utf8'))).toEqual(CONFIG);
    const oldFile = join(tmp, 'old-a.sealed.json');
    writeFileSync(oldFile, oldA);
    const old = await runCli(['provision', 'unseal', oldFile, '--out', join(tmp, 'old.out.json')], { env: vault.env });
    expect(old.code).toBe(2);
    expect(existsSync(join(tmp, 'old.out.json'))).toBe(false);
    // The audit log shows exactly one rewrap request for both envelopes.
    const rewraps = readFileSync(vault.auditLog, 'utf8').split('\n').filter((l) => l.includes(`"${vault.layout.transitMount}/rewrap/`) && l.includes('"type":"request"'));
    expect(rewraps).toHaveLength(1);
  });

  test('more envelopes than one OpenBao request may carry are rewrapped in chunks', async ({ vault }) => {
    const { rewrapEnvelopes, REWRAP_CHUNK } = await import('../../../src/provision/seal.js');
    const { fleetContext } = await import('../../../src/provision/envelope.js');
    const n = REWRAP_CHUNK * 2 + 50;
    const envelopes: import('../../../src/provision/envelope.js').SealedEnvelope[] = [];
    for (let i = 0; i < n; i += REWRAP_CHUNK) {
      const size = Math.min(REWRAP_CHUNK, n - i);
      const r = await vault.root.write<{ batch_results: { ciphertext: string }[] }>(`${vault.layout.transitMount}/encrypt/${vault.layout.transitKey}`, {
        batch_input: Array.from({ length: size }, (_, j) => ({ plaintext: Buffer.from(`{"i":${i + j}}`).toString('base64'), context: fleetContext(`acme/f${(i + j) % 7}`) })),
      });
      r.data.batch_results.forEach((b, j) => envelopes.push({
        format: 'fleetvault-sealed-config' as const, version: 1 as const, mount: vault.layout.transitMount, key: vault.layout.transitKey,
        keyVersion: 1, fleet: `acme/f${(i + j) % 7}`, createdAt: new Date().toISOString(), ciphertext: b.ciphertext,
      }));
    }
    await vault.root.write(`${vault.layout.transitMount}/keys/${vault.layout.transitKey}/rotate`, {});
    const out = await rewrapEnvelopes({ client: vault.root, envelopes });
    expect(out.map((r) => r.toVersion)).toEqual(Array(n).fill(2));
    out.forEach((r, i) => expect(r.envelope.fleet).toBe(envelopes[i]!.fleet));
    const dec = await vault.root.write<{ plaintext: string }>(`${vault.layout.transitMount}/decrypt/${vault.layout.transitKey}`, { ciphertext: out[n - 1]!.envelope.ciphertext, context: fleetContext(out[n - 1]!.envelope.fleet) });
    expect(Buffer.from(dec.data.plaintext, 'base64').toString()).toBe(`{"i":${n - 1}}`);
  });

  test('one bad envelope (another fleet) fails the whole rewrap and writes nothing', async ({ vault, tmp }) => {
    const a = await seal(vault.env, tmp, 'acme/a', 'a');
    const b = await seal(vault.env, tmp, 'acme/b', 'b');
    writeFileSync(b.sealed, JSON.stringify({ ...b.envelope, fleet: 'acme/z' }));
    const before = [readFileSync(a.sealed, 'utf8'), readFileSync(b.sealed, 'utf8')];
    await vault.root.write(`${vault.layout.transitMount}/keys/${vault.layout.transitKey}/rotate`, {});
    const r = await runCli(['provision', 'rewrap', a.sealed, b.sealed], { env: vault.env });
    expect(r.code).toBe(2);
    expectOneLine(r.stderr);
    expect([readFileSync(a.sealed, 'utf8'), readFileSync(b.sealed, 'utf8')]).toEqual(before);
  });
});
