// An audit device that cannot write: OpenBao then refuses every request (fails closed) with a bare
// "internal error", and fleetvault must say so in one clear line and exit 2.
import { execFileSync } from 'node:child_process';
import { renameSync, symlinkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, slugFor, testLayout, layoutEnv } from '../../support/context.js';
import { runCli } from '../../support/cli.js';
import { startDevServer } from '../../../src/dev/openbao.js';
import { VaultClient } from '../../../src/vault/client.js';
import { bootstrapVault } from '../../../src/vault/bootstrap.js';

test('audit log on a full disk: the server refuses and fleetvault fails closed with a clear message', async ({ tmp }) => {
  // Its own server: breaking the shared server's audit log would fail every other test.
  const server = await startDevServer({ dir: join(tmp, 'bao') });
  try {
    const root = new VaultClient({ address: server.address, token: server.rootToken });
    const layout = testLayout(slugFor('audit fail closed'));
    await bootstrapVault({ client: root, layout, factoryCidrs: ['127.0.0.0/8'] });
    const key = join(tmp, 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const env = { VAULT_ADDR: server.address, VAULT_TOKEN: server.rootToken, ...layoutEnv(layout) };

    const ok = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--out', join(tmp, 'ok-cert.pub')], { env });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);

    // "Disk full": the audit file becomes /dev/full (every write fails with ENOSPC) and SIGHUP
    // makes OpenBao reopen it.
    renameSync(server.auditLog, `${server.auditLog}.before`);
    symlinkSync('/dev/full', server.auditLog);
    process.kill(server.pid, 'SIGHUP');
    await new Promise((r) => setTimeout(r, 500));

    const out = join(tmp, 'refused-cert.pub');
    const r = await runCli(['cert', 'sign', '--public-key', `${key}.pub`, '--out', out], { env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fleetvault: failed to .*cannot write its audit log \(it fails closed\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.stderr).not.toContain(server.rootToken);
    expect(() => readFileSync(out)).toThrow(); // no certificate written
    // The server log names the real cause the message points at.
    expect(readFileSync(server.serverLog, 'utf8')).toMatch(/no audit backend succeeded in logging the request/);
  } finally {
    await server.stop();
  }
}, 60_000);
