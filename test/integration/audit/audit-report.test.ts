// Real signs, encrypts, decrypts and a refused decrypt against the shared OpenBao with its file
// audit device; `fleetvault audit` must name each with the right actor, address and outcome, and
// never print plaintext. Other tests write to the same log at the same time: everything is
// filtered to this test's mounts (their names carry the test's slug).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import type { AuditEvent } from '../../../src/audit/events.js';

async function auditJson(args: string[], env: Record<string, string>): Promise<AuditEvent[]> {
  const r = await runCli(['audit', ...args, '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/^audit: \d+ events? shown of \d+ .*0 malformed lines skipped/m);
  return JSON.parse(r.stdout) as AuditEvent[];
}

test('the audit report names who signed, encrypted, decrypted and was refused, without plaintext', async ({ vault, slug, tmp }) => {
  const l = vault.layout;
  const token = async (policy: string, name: string) =>
    (await vault.root.write('auth/token/create', { policies: [`${l.policyPrefix}-${policy}`], display_name: name, no_default_policy: true, ttl: '10m' })).auth!.client_token;
  const engineer = await token('engineer', `alice-${slug}`);
  const auditor = await token('auditor', `audit-${slug}`);

  // 1. a certificate, through the CLI, as the engineer.
  const key = join(tmp, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--ttl', '10m', '--reason', 'INC-7 reboot loop', '--json'], {
    env: { ...vault.env, VAULT_TOKEN: engineer },
  });
  expect(signed.code, signed.stderr).toBe(0);
  const serial = JSON.parse(signed.stdout).serial as string;

  // 2. seal as the operator (root here), 3. decrypt as a flasher logged in through AppRole.
  const plaintextRaw = `{"apiKey":"PLAINTEXT-${slug}"}`;
  const plaintext = Buffer.from(plaintextRaw).toString('base64');
  const context = Buffer.from('acme-fleet').toString('base64');
  const ciphertext = (await vault.root.write(`${l.transitMount}/encrypt/${l.transitKey}`, { plaintext, context })).data.ciphertext as string;
  const roleId = (await vault.root.read(`auth/${l.approleMount}/role/${l.approleRole}/role-id`)).data.role_id as string;
  const secretId = (await vault.root.write(`auth/${l.approleMount}/role/${l.approleRole}/secret-id`, { metadata: JSON.stringify({ batch: `batch-${slug}` }) })).data.secret_id as string;
  const login = await vault.root.write(`auth/${l.approleMount}/login`, { role_id: roleId, secret_id: secretId }, { anonymous: true });
  const decrypted = await vault.root.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext, context }, { token: login.auth!.client_token });
  expect(decrypted.data.plaintext).toBe(plaintext);

  // 4. the engineer may not decrypt.
  await expect(vault.root.write(`${l.transitMount}/decrypt/${l.transitKey}`, { ciphertext, context }, { token: engineer })).rejects.toMatchObject({ status: 403 });

  const env = { FLEETVAULT_AUDIT_LOG: vault.auditLog };
  const events = await auditJson(['--path', slug], env);
  const sign = events.filter((e) => e.kind === 'ssh-sign');
  expect(sign).toEqual([expect.objectContaining({
    ok: true, actor: `token-alice-${slug}`, remoteAddress: '127.0.0.1', path: `${l.sshMount}/sign/${l.sshRole}`,
    details: expect.objectContaining({ principals: ['root'], ttl: 600, serial, reason: 'INC-7 reboot loop', role: l.sshRole }),
  })]);
  const transit = events.filter((e) => e.kind.startsWith('transit-'));
  expect(transit.map((e) => [e.kind, e.ok, e.remoteAddress])).toEqual([
    ['transit-encrypt', true, '127.0.0.1'], ['transit-decrypt', true, '127.0.0.1'], ['transit-decrypt', false, '127.0.0.1'],
  ]);
  expect(transit[0]!.details).toMatchObject({ key: l.transitKey, fleet: 'acme-fleet', keyVersion: 1 });
  expect(transit[1]!.actor).toMatch(new RegExp(`/${l.approleRole}$`));
  expect(transit[1]!.details).toMatchObject({ fleet: 'acme-fleet', batch: `batch-${slug}`, role: l.approleRole });
  expect(transit[2]).toMatchObject({ actor: `token-alice-${slug}`, details: { error: 'permission denied' } });
  const logins = events.filter((e) => e.kind === 'login');
  expect(logins).toEqual([expect.objectContaining({ ok: true, remoteAddress: '127.0.0.1', details: expect.objectContaining({ role: l.approleRole, batch: `batch-${slug}` }) })]);

  // --kind denied: only the refusal; the table on stdout never carries plaintext either.
  const denied = await auditJson(['--path', slug, '--kind', 'denied'], env);
  // Bootstrap's probe of the not-yet-configured CA (a 400) is a lookup that found nothing, not a
  // refusal (issue 12): it is not here.
  expect(denied.every((e) => !e.ok)).toBe(true);
  expect(denied.map((e) => [e.kind, e.actor])).toEqual([['transit-decrypt', `token-alice-${slug}`]]);
  const table = await runCli(['audit', '--path', slug, '--kind', 'all'], { env });
  expect(table.code, table.stderr).toBe(0);
  expect(table.stdout).toMatch(/transit-decrypt\s+REFUSED\s+token-alice-/);
  for (const out of [JSON.stringify(events), table.stdout]) {
    expect(out).not.toContain(plaintext);
    expect(out).not.toContain(plaintextRaw);
    expect(out).not.toContain(`PLAINTEXT-${slug}`);
  }

  // resolve: the auditor hashes the ciphertext (read from stdin) and finds who handled it.
  const resolved = await runCli(['audit', 'resolve', '-', '--path', slug, '--json'], {
    env: { ...env, VAULT_ADDR: vault.address, VAULT_TOKEN: auditor }, input: ciphertext,
  });
  expect(resolved.code, resolved.stderr).toBe(0);
  const r = JSON.parse(resolved.stdout) as { hashes: { device: string; hash: string }[]; events: AuditEvent[] };
  expect(r.hashes).toEqual([{ device: 'file', hash: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/) }]);
  // The encrypt that produced it (response), the flasher's decrypt and the refused one (requests).
  expect(r.events.map((e) => [e.kind, e.ok])).toEqual([['transit-encrypt', true], ['transit-decrypt', true], ['transit-decrypt', false]]);
  // …and the certificate by the serial sshd logs (in clear thanks to the mount tuning).
  const bySerial = await runCli(['audit', 'resolve', serial, '--path', slug, '--json'], { env: { ...env, VAULT_ADDR: vault.address, VAULT_TOKEN: auditor } });
  expect(bySerial.code, bySerial.stderr).toBe(0);
  expect((JSON.parse(bySerial.stdout) as { events: AuditEvent[] }).events.map((e) => e.actor)).toEqual([`token-alice-${slug}`]);
  // The engineer has no sys/audit-hash: a Vault refusal, exit 2.
  const refused = await runCli(['audit', 'resolve', serial, '--path', slug], { env: { ...env, VAULT_ADDR: vault.address, VAULT_TOKEN: engineer } });
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/failed to (list the audit devices|hash the value).*permission denied/);

  // anomalies: the flasher's decrypt came from outside 10.0.0.0/8; the refusal is counted per source.
  const a = await runCli(['audit', 'anomalies', '--path', slug, '--kind', 'transit', '--cidr', '10.0.0.0/8', '--json'], { env });
  expect(a.code, a.stderr).toBe(0);
  const anomalies = JSON.parse(a.stdout) as { type: string; remoteAddress?: string; count?: number }[];
  expect(anomalies.filter((x) => x.type === 'decrypt-outside-factory')).toHaveLength(1);
  expect(anomalies.find((x) => x.type === 'refusals')).toMatchObject({ remoteAddress: '127.0.0.1', count: 1 });
});
