// The signing cache (SSH role + CA kept between `cert sign` runs) on real OpenBao servers: used
// for the same server/mount/role only, dropped when the CA rotates, and a tampered file is refused
// — never trusted to widen what a user may ask for. Every run has its own HOME, as a user would.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, slugFor, testLayout, layoutEnv } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startDevServer } from '../../../src/dev/openbao.js';
import { VaultClient } from '../../../src/vault/client.js';
import { bootstrapVault } from '../../../src/vault/bootstrap.js';
import { sshRoleSettings } from '../../../src/vault/layout.js';
import { currentCaFingerprint } from '../../../src/ssh/agent.js';

function userKey(dir: string, name = 'id'): string {
  const k = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
  return k;
}

/** Requests that reached `path` on a server (from its audit log). */
function count(auditLog: string, path: string): number {
  return readFileSync(auditLog, 'utf8').split('\n').filter((l) => l.includes('"type":"response"') && l.includes(`"path":"${path}"`)).length;
}

const cacheFiles = (home: string) => readdirSync(join(home, '.cache', 'fleetvault', 'signing')).filter((f) => f.endsWith('.json'));
const signingCa = (certPath: string) => /Signing CA: \S+ (SHA256:\S+)/.exec(execFileSync('ssh-keygen', ['-L', '-f', certPath]).toString())![1];
/** The CA the mount signs with now, through the unauthenticated public_key (not counted below). */
const caFingerprint = (client: VaultClient, mount: string) => currentCaFingerprint(client, mount);

test('the second cert sign sends only the sign request; another server or mount never uses that cache', { timeout: 120_000 }, async ({ vault, tmp }) => {
  const env = { ...vault.env, HOME: tmp, FLEETVAULT_SIGNING_CACHE: '1' };
  const key = userKey(tmp);
  const { sshMount: m } = vault.layout;
  const sign = (e: Record<string, string>) => runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--json'], { env: e });

  // Bootstrapping the layout read these already: count from here.
  const caReads = count(vault.auditLog, `${m}/config/ca`);
  const roleReads = count(vault.auditLog, `${m}/roles/engineer`);
  const first = await sign(env);
  expect(first.code, first.stderr).toBe(0);
  expect(count(vault.auditLog, `${m}/config/ca`)).toBe(caReads + 1);
  const [file] = cacheFiles(tmp);
  expect(statSync(join(tmp, '.cache', 'fleetvault', 'signing', file!)).mode & 0o777).toBe(0o600);
  const second = await sign(env);
  expect(second.code, second.stderr).toBe(0);
  // Cached: no role or CA read, and the certificate was still verified (it is the CA's).
  expect(count(vault.auditLog, `${m}/config/ca`)).toBe(caReads + 1);
  expect(count(vault.auditLog, `${m}/roles/engineer`)).toBe(roleReads + 1);
  expect(count(vault.auditLog, `${m}/sign/engineer`)).toBe(2);
  expect(signingCa(`${key}-cert.pub`)).toBe(await caFingerprint(vault.root, m));

  // A second server with the very same mount and role names (and the same HOME).
  const b = await startDevServer({ dir: join(tmp, 'bao-b') });
  try {
    const rootB = new VaultClient({ address: b.address, token: b.rootToken });
    await bootstrapVault({ client: rootB, layout: vault.layout, factoryCidrs: ['127.0.0.0/8'] });
    const envB = { ...env, VAULT_ADDR: b.address, VAULT_TOKEN: b.rootToken };
    const caReadsB = count(b.auditLog, `${m}/config/ca`);
    const roleReadsB = count(b.auditLog, `${m}/roles/engineer`);
    const onB = await sign(envB);
    expect(onB.code, onB.stderr).toBe(0);
    expect(count(b.auditLog, `${m}/config/ca`)).toBe(caReadsB + 1);
    expect(count(b.auditLog, `${m}/roles/engineer`)).toBe(roleReadsB + 1);
    expect(signingCa(`${key}-cert.pub`)).toBe(await caFingerprint(rootB, m));
    expect(cacheFiles(tmp)).toHaveLength(2);
    // …and server A's entry is still A's own.
    expect((await sign(env)).code).toBe(0);
    expect(count(vault.auditLog, `${m}/config/ca`)).toBe(caReads + 1);
  } finally {
    await b.stop();
  }

  // Another mount on the same server: its own reads.
  const other = testLayout(slugFor('signing cache other mount'));
  await bootstrapVault({ client: vault.root, layout: other, factoryCidrs: ['127.0.0.0/8'] });
  try {
    const envO = { ...env, ...layoutEnv(other) };
    const caReadsO = count(vault.auditLog, `${other.sshMount}/config/ca`);
    const onOther = await sign(envO);
    expect(onOther.code, onOther.stderr).toBe(0);
    expect(count(vault.auditLog, `${other.sshMount}/config/ca`)).toBe(caReadsO + 1);
    expect(signingCa(`${key}-cert.pub`)).toBe(await caFingerprint(vault.root, other.sshMount));
  } finally {
    for (const mnt of [other.sshMount, other.transitMount, other.kvMount]) await vault.root.delete(`sys/mounts/${mnt}`).catch(() => {});
    await vault.root.delete(`sys/auth/${other.approleMount}`).catch(() => {});
  }
});

test('after a CA rotation the cached CA is dropped: the certificate is verified against the new CA', { timeout: 60_000 }, async ({ vault, tmp }) => {
  const env = { ...vault.env, HOME: tmp, FLEETVAULT_SIGNING_CACHE: '1' };
  const key = userKey(tmp);
  const m = vault.layout.sshMount;
  expect((await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env })).code).toBe(0);
  const oldCa = signingCa(`${key}-cert.pub`);

  await vault.root.delete(`${m}/config/ca`);
  await vault.root.write(`${m}/config/ca`, { generate_signing_key: true, key_type: 'ed25519' });
  const reads = count(vault.auditLog, `${m}/config/ca`);

  const r = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  const newCa = signingCa(`${key}-cert.pub`);
  expect(newCa).not.toBe(oldCa);
  expect(newCa).toBe(await caFingerprint(vault.root, m));
  // The mismatch made it read the CA again, and the cache now holds the new one.
  expect(count(vault.auditLog, `${m}/config/ca`)).toBeGreaterThan(reads);
  const after = count(vault.auditLog, `${m}/config/ca`);
  expect((await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env })).code).toBe(0);
  expect(count(vault.auditLog, `${m}/config/ca`)).toBe(after);
});

test('a tampered cache file is refused: a forged max_ttl never lets a longer TTL through', { timeout: 60_000 }, async ({ vault, tmp }) => {
  const env = { ...vault.env, HOME: tmp, FLEETVAULT_SIGNING_CACHE: '1' };
  const key = userKey(tmp);
  const m = vault.layout.sshMount;
  expect((await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env })).code).toBe(0);
  const path = join(tmp, '.cache', 'fleetvault', 'signing', cacheFiles(tmp)[0]!);

  // Raise the cached max_ttl to a day, keeping the file well-formed (the MAC no longer matches).
  const f = JSON.parse(readFileSync(path, 'utf8'));
  const body = JSON.parse(f.body);
  body.entry.role.max_ttl = 86400;
  f.body = JSON.stringify(body);
  writeFileSync(path, JSON.stringify(f));
  const reads = count(vault.auditLog, `${m}/roles/engineer`);
  const signs = count(vault.auditLog, `${m}/sign/engineer`);
  const r = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--ttl', '2h'], { env });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/above role engineer's maximum of 1h/);
  // Refused locally on the role as Vault has it now: no sign request was sent.
  expect(count(vault.auditLog, `${m}/roles/engineer`)).toBe(reads + 1);
  expect(count(vault.auditLog, `${m}/sign/engineer`)).toBe(signs);

  // A cache file others can read or write is not ours to trust either.
  expect((await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env })).code).toBe(0);
  chmodSync(path, 0o644);
  const before = count(vault.auditLog, `${m}/config/ca`);
  expect((await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env })).code).toBe(0);
  expect(count(vault.auditLog, `${m}/config/ca`)).toBe(before + 1);
  expect(statSync(path).mode & 0o777).toBe(0o600);
});

test('a role narrowed after the cache was written is never widened by it', { timeout: 60_000 }, async ({ vault, tmp }) => {
  const env = { ...vault.env, HOME: tmp, FLEETVAULT_SIGNING_CACHE: '1' };
  const key = userKey(tmp);
  const m = vault.layout.sshMount;
  expect((await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env })).code).toBe(0);
  // The operator lowers the default to 5 minutes and the maximum to 10 (cache still says 30m / 1h).
  await vault.root.write(`${m}/roles/engineer`, { ...sshRoleSettings(), ttl: 300, max_ttl: 600 });

  const dflt = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--json'], { env });
  expect(dflt.code, dflt.stderr).toBe(0);
  const info = JSON.parse(dflt.stdout);
  expect(Date.parse(info.validBefore) - Date.now()).toBeLessThanOrEqual(300_000 + 5_000);

  const long = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--ttl', '30m'], { env });
  expect(long.code).toBe(1);
  expect(long.stderr).toMatch(/above role engineer's maximum of 10m/);
});

test('a role with default critical options (a scope bound to source addresses): cached runs still verify it', { timeout: 60_000 }, async ({ vault, tmp }) => {
  const env = { ...vault.env, HOME: tmp, FLEETVAULT_SIGNING_CACHE: '1' };
  const key = userKey(tmp);
  const m = vault.layout.sshMount;
  await vault.root.write(`${m}/roles/bound`, { ...sshRoleSettings(), default_critical_options: { 'source-address': '10.0.0.0/8' } });
  const sign = () => runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--ssh-role', 'bound', '--json'], { env });
  const first = await sign();
  expect(first.code, first.stderr).toBe(0);
  const reads = count(vault.auditLog, `${m}/roles/bound`);
  const second = await sign();
  expect(second.code, second.stderr).toBe(0);
  // From the cache, and the critical option checked against the cached role's defaults.
  expect(count(vault.auditLog, `${m}/roles/bound`)).toBe(reads);
  expect(JSON.parse(second.stdout).criticalOptions).toEqual({ 'source-address': '10.0.0.0/8' });
});

test('cert sign and cert inspect never load sshpk (the wire parser and node:crypto do it all)', { timeout: 60_000 }, async ({ vault, tmp }) => {
  const probe = join(tmp, 'probe.cjs');
  writeFileSync(probe, "process.on('exit', () => { if (Object.keys(require.cache).some((k) => k.includes('/node_modules/sshpk/'))) process.stderr.write('sshpk was loaded\\n'); });\n");
  const env = { ...vault.env, HOME: tmp, FLEETVAULT_SIGNING_CACHE: '1', NODE_OPTIONS: `--require ${probe}` };
  const key = userKey(tmp);
  const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`], { env });
  expect(signed.code, signed.stderr).toBe(0);
  expect(signed.stderr).not.toMatch(/sshpk was loaded/);
  const inspected = await runCli(['cert', 'inspect', `${key}-cert.pub`], { env });
  expect(inspected.code, inspected.stderr).toBe(0);
  expect(inspected.stdout).toMatch(/^Signature: +valid \(ssh-ed25519\)$/m);
  expect(inspected.stderr).not.toMatch(/sshpk was loaded/);
  // The probe itself works: a process that loads sshpk is seen.
  const sanity = spawnSync(process.execPath, ['-r', probe, '-e', "require('sshpk')"], { encoding: 'utf8' });
  expect(sanity.stderr).toMatch(/sshpk was loaded/);
});
