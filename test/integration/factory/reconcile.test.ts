// factory reconcile: decrypts in the real audit log against the batch and balena registrations.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startBalenaApi } from '../../support/balena-api.js';

test('reconcile counts a batch\'s decrypts and flags registrations beyond them', async ({ vault, tmp, slug }) => {
  const name = `rec-${slug}`.slice(0, 40);
  const created = await runCli(['factory', 'batch', 'create', '--name', name, '--count', '3', '--cidr', '127.0.0.1/32', '--fleet', 'acme/line3', '--json'], { env: vault.env });
  expect(created.code, created.stderr).toBe(0);
  const batch = JSON.parse(created.stdout);
  const { VAULT_TOKEN: _t, ...noToken } = vault.env;
  const unwrapped = await runCli(['factory', 'batch', 'unwrap', '-', '--json'], { env: noToken, input: batch.wrappingToken });
  expect(unwrapped.code, unwrapped.stderr).toBe(0);
  const { secretId } = JSON.parse(unwrapped.stdout);
  const plain = join(tmp, 'config.json');
  writeFileSync(plain, JSON.stringify({ applicationId: 1, apiKey: 'prov-key' }));
  expect((await runCli(['provision', 'seal', plain, '--fleet', 'acme/line3', '--out', join(tmp, 's.json')], { env: vault.env })).code).toBe(0);
  const flasher = { ...noToken, FLEETVAULT_ROLE_ID: batch.roleId, FLEETVAULT_SECRET_ID: secretId };
  for (let i = 0; i < 2; i++) {
    const u = await runCli(['provision', 'unseal', join(tmp, 's.json'), '--out', join(tmp, `out${i}.json`)], { env: flasher });
    expect(u.code, u.stderr).toBe(0);
  }
  await new Promise((r) => setTimeout(r, 300));

  const plainReport = await runCli(['factory', 'reconcile', '--batch', name, '--audit-log', vault.auditLog, '--json'], { env: vault.env });
  expect(plainReport.code, plainReport.stderr).toBe(0);
  const r1 = JSON.parse(plainReport.stdout);
  expect(r1).toMatchObject({ batch: name, quota: 3, logins: { ok: 2, refused: 0 }, decrypts: { ok: 2, refused: 0, outsideCidrs: 0, sources: { '127.0.0.1': 2 } }, findings: [] });
  expect(r1.vault).toMatchObject({ usesLeft: 1, cidrs: ['127.0.0.1/32'] });

  // Three devices registered in the fleet since the batch began, but only two decrypts: a
  // provisioning key is in use outside the factory.
  const api = await startBalenaApi();
  try {
    for (const c of ['a', 'b', 'c']) api.addDevice({ uuid: c.repeat(32) });
    const withFleet = await runCli(['factory', 'reconcile', '--batch', name, '--audit-log', vault.auditLog, '--fleet', api.fleet.slug, '--balena-url', api.url, '--json'],
      { env: { ...vault.env, BALENA_TOKEN: api.apiKey } });
    expect(withFleet.code).toBe(2);
    const r2 = JSON.parse(withFleet.stdout);
    expect(r2.registered).toBe(3);
    expect(r2.findings).toEqual([expect.objectContaining({ type: 'surplus-registrations' })]);
    expect(api.unhandled).toEqual([]);
  } finally {
    await api.stop();
  }
});
