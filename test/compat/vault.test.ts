// fleetvault end to end against HashiCorp Vault (not OpenBao, the tested default): its own Vault
// dev server from scripts/install-vault.sh, `fleetvault init` twice, a certificate that logs into a
// real sshd device, a config.json sealed and unsealed, and the audit trail of all that.
//
// An opt-in suite (`npm run test:compat`, see docs/compat.md): building Vault takes minutes,
// so it is not part of `npm test`. Running it is a request to test Vault: without the binary it
// fails loudly, it never skips.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, layoutEnv, slugFor, testLayout } from '../support/context.js';
import { runCli } from '../support/cli.js';
import { knownHostsFor, sshLogin } from '../support/ssh.js';
import { defaultDeviceConfig } from '../../src/dev/device.js';
import { startDevServer } from '../../src/dev/openbao.js';
import { packageRoot } from '../../src/package-root.js';

const VAULT_BIN = join(process.env.FLEETVAULT_TOOLS_DIR ?? join(packageRoot(), '.tools'), 'vault', 'bin', 'vault');
const NAME = 'fleetvault against HashiCorp Vault: init twice, cert login on a real device, seal/unseal, audit';

test.sequential('the HashiCorp Vault binary is built', () => {
  expect(existsSync(VAULT_BIN), `${VAULT_BIN} is missing: run bash scripts/install-vault.sh`).toBe(true);
});

{
  test(
  NAME,
  { timeout: 120_000 },
  async ({ devices, tmp, task }) => {
    const server = await startDevServer({ dir: join(tmp, 'vault'), bin: VAULT_BIN });
    try {
      // Prove which server this ran against (a misbuilt binary or an OpenBao renamed to `vault`
      // would make this test meaningless).
      expect(server.flavour).toBe('vault');
      expect(execFileSync(VAULT_BIN, ['version'], { encoding: 'utf8' })).toMatch(/^Vault v1\.1[2-9]\./);
      console.info(`[compat] ${task.name}: HashiCorp Vault ${server.version} at ${server.address}`);

      const layout = testLayout(slugFor(task.name));
      const env = { VAULT_ADDR: server.address, VAULT_TOKEN: server.rootToken, ...layoutEnv(layout) };

      // --- init, idempotent -------------------------------------------------------------------
      const first = await runCli(['init', '--json'], { env });
      expect(first.code, first.stderr).toBe(0);
      const kinds = (JSON.parse(first.stdout).changes as { kind: string }[]).map((c) => c.kind);
      expect(kinds).toEqual(expect.arrayContaining(['mount', 'auth', 'tune', 'ssh-ca', 'ssh-role', 'transit-key', 'policy', 'approle-role']));
      const second = await runCli(['init', '--json'], { env });
      expect(second.code, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout)).toEqual({ changes: [] });

      // --- a certificate logs into a real device -------------------------------------------------
      const line = await runCli(['ca', 'authorized-key'], { env });
      expect(line.code, line.stderr).toBe(0);
      expect(line.stdout).toMatch(/^cert-authority,principals="root" ssh-ed25519 \S+ fleetvault:/);
      const config = defaultDeviceConfig('vault-compat');
      (config.os as { sshKeys: string[] }).sshKeys = [line.stdout.trim()];
      const device = await devices.start({ config });
      const kh = knownHostsFor(tmp, [device]);
      const key = join(tmp, 'id');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const signed = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--json'], { env });
      expect(signed.code, signed.stderr).toBe(0);
      const info = JSON.parse(signed.stdout);
      expect(info).toMatchObject({ type: 'user', principals: ['root'] });
      const login = await sshLogin({ device, key, cert: `${key}-cert.pub`, knownHosts: kh, command: 'id -un' });
      expect(login.code, login.stderr).toBe(0);
      expect(login.stdout.trim()).toBe('root');
      expect(readFileSync(device.log, 'utf8')).toMatch(new RegExp(`Accepted publickey for root .*ID ${info.keyId} \\(serial ${info.serial}\\)`));

      // A TTL above the role's maximum is refused, not capped (checked against the role's max_ttl
      // before asking, so this proves Vault's role read-back has the shape we expect).
      const long = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--ttl', '2h', '--out', join(tmp, 'long-cert.pub')], { env });
      expect(long.code, long.stderr).toBe(1);
      expect(long.stderr).toMatch(/above role engineer's maximum/);

      // --- seal / unseal -------------------------------------------------------------------------
      const plain = join(tmp, 'config.json');
      const body = { applicationId: 7, deviceType: 'raspberrypi4-64', apiKey: 'provisioning-key-vault-compat', os: { sshKeys: [] } };
      writeFileSync(plain, JSON.stringify(body, null, 2));
      const sealedPath = join(tmp, 'config.sealed.json');
      const sealed = await runCli(['provision', 'seal', plain, '--fleet', 'acme/sensors', '--out', sealedPath, '--json'], { env });
      expect(sealed.code, sealed.stderr).toBe(0);
      expect(readFileSync(sealedPath, 'utf8')).not.toContain('provisioning-key-vault-compat');
      expect(JSON.parse(readFileSync(sealedPath, 'utf8')).ciphertext).toMatch(/^vault:v1:/);
      const out = join(tmp, 'config.unsealed.json');
      const unsealed = await runCli(['provision', 'unseal', sealedPath, '--out', out], { env });
      expect(unsealed.code, unsealed.stderr).toBe(0);
      expect(readFileSync(out)).toEqual(readFileSync(plain));
      expect(statSync(out).mode & 0o777).toBe(0o600);

      // --- the audit device (enabled through the API on Vault) saw all of it -----------------------
      expect(statSync(server.auditLog).mode & 0o777).toBe(0o600);
      const audit = await runCli(['audit', '--log', server.auditLog, '--kind', 'all', '--json'], { env });
      expect(audit.code, audit.stderr).toBe(0);
      const events = JSON.parse(audit.stdout) as { kind: string; ok: boolean; details?: Record<string, unknown> }[];
      expect(events.filter((e) => e.kind === 'ssh-sign' && e.ok).length).toBeGreaterThanOrEqual(1);
      expect(events.some((e) => e.kind === 'transit-encrypt' && e.ok)).toBe(true);
      expect(events.some((e) => e.kind === 'transit-decrypt' && e.ok)).toBe(true);
    } finally {
      await server.stop();
    }
  },
  );
}
