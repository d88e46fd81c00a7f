// `ca rotate` retire, as an operator whose only access to the fleet is an old-CA certificate in
// ssh-agent (what `fleetvault ssh --agent` leaves there): retire removes that CA, so checking the
// result with the operator's access reported a failure that had not happened. The check must use
// a fresh certificate from the current CA only. And `--delete-old-issuer`, the tool's own hint
// after a completed rotation, must delete the old issuer (an admin's token: the operator's 403 is
// answered with the admin's command).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { policyName } from '../../../src/vault/layout.js';
import { engineerCert, fleetvaultLines, loginCodes, newKey, operatorEnv, skipOnVault, trustingFleet, type Fleet } from './rotate-fleet.js';

function rotateWithAgent(env: Record<string, string>, f: Fleet, ...extra: string[]) {
  // No --identity: ssh uses the agent, as an operator without a key file does.
  return runCli(['ca', 'rotate', '--devices', f.file, '--user-known-hosts-file', f.kh, '--journal', f.journal, '--json', ...extra], { env, timeoutMs: 180_000 });
}

test('retire succeeds when the operator reaches devices with an old-CA certificate from ssh-agent; --delete-old-issuer after completion deletes the old issuer', { timeout: 180_000 }, async ({ vault, devices, tmp, skip }) => {
  skipOnVault(skip);
  const mount = vault.layout.sshMount;
  const f = await trustingFleet(2, devices, tmp, vault.env);
  const sock = join(tmp, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    // HOME without ~/.ssh: the agent's old-CA certificate is the operator's only way in.
    const env = { ...(await operatorEnv(vault)), SSH_AUTH_SOCK: sock, HOME: tmp };
    const key = newKey(tmp, 'operator-agent');
    const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--agent'], { env });
    expect(signed.code, signed.stderr).toBe(0);
    expect(execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: sock } }).toString()).toMatch(/ED25519-CERT/);
    const before = await engineerCert(env, tmp, 'before');

    const all = await rotateWithAgent(env, f);
    expect(all.code, all.stderr + all.stdout).toBe(0);
    const r = JSON.parse(all.stdout);
    expect(r).toMatchObject({ complete: true });
    expect(r.stages.map((s: { stage: string; status: string }) => `${s.stage}:${s.status}`)).toEqual(['prepare:done', 'distribute:done', 'switch:done', 'retire:done']);
    expect(r.stages[3].coverage).toMatchObject({ trusting: 2, total: 2, missing: [], stillTrustingOld: [] });
    expect(await loginCodes(f, before)).toEqual([255, 255]);
    for (const d of f.devices) expect(fleetvaultLines(d)).toEqual([expect.stringContaining(r.next.fingerprint)]);
    // The old issuer still exists (it signs nothing) and the tool says how to delete it.
    expect((await vault.root.list(`${mount}/issuers`)).sort()).toEqual([r.old.issuerId, r.next.issuerId].sort());
    expect(all.stderr).toContain('--stage retire --delete-old-issuer');

    // Operators may not delete issuers (review of issue 11, item 3): the 403 is answered with the
    // admin's command, the issuer stays, and an admin's token then deletes it.
    const refused = await rotateWithAgent(env, f, '--stage', 'retire', '--delete-old-issuer');
    expect(refused.code, refused.stderr).toBe(0);
    expect(JSON.parse(refused.stdout).stages[0].detail).toContain(`Vault refused to delete the old issuer (403): it signs nothing, so it is harmless; an admin deletes it with \`bao delete ${mount}/issuer/${r.old.issuerId}\``);
    expect((await vault.root.list(`${mount}/issuers`)).sort()).toEqual([r.old.issuerId, r.next.issuerId].sort());
    const admin = (await vault.root.write('auth/token/create', { policies: [policyName(vault.layout, 'admin')], ttl: '10m' })).auth!.client_token;
    const adminEnv = { ...env, VAULT_TOKEN: admin };
    const del = await rotateWithAgent(adminEnv, f, '--stage', 'retire', '--delete-old-issuer');
    expect(del.code, del.stderr).toBe(0);
    expect(JSON.parse(del.stdout).stages).toMatchObject([{ stage: 'retire', status: 'already', detail: expect.stringContaining(`deleted the old issuer ${r.old.issuerId}`) }]);
    expect(await vault.root.list(`${mount}/issuers`)).toEqual([r.next.issuerId]);
    // Twice is harmless: the issuer is gone, and the report says so.
    const twice = await rotateWithAgent(adminEnv, f, '--stage', 'retire', '--delete-old-issuer');
    expect(twice.code, twice.stderr).toBe(0);
    expect(JSON.parse(twice.stdout).stages[0].detail).toMatch(/already deleted/);
    expect(twice.stderr).not.toContain('--delete-old-issuer');
  } finally {
    agent.kill();
  }
});
