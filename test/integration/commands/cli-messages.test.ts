// What a newcomer sees from the CLI layer: one-line errors that name the command and its help,
// help that wraps at word boundaries with the command's own options first, init --dry-run as a CI
// gate, and the CA public key without a login.
import { test, expect, describe } from '../../support/context.js';
import { runCli } from '../../support/cli.js';

const oneLine = (s: string) => s.trim().split('\n').length === 1 && !/\n\s+at /.test(s);
const flat = (s: string) => s.replace(/\s+/g, ' ');

describe('usage errors: one line, what failed, where the help is', () => {
  const cases: [string[], RegExp][] = [
    [[], /^fleetvault: no command given \(start with fleetvault dev, or see fleetvault --help\)$/],
    [['cert', 'sing'], /unknown command "cert sing" \(did you mean "cert sign"\? see fleetvault cert --help\)/],
    [['frobnicate'], /unknown command "frobnicate" \(see fleetvault --help\)/],
    [['login', '--method', 'foo'], /invalid --method "foo" \(choose one of token, userpass, oidc; see fleetvault login --help\)/],
    [['dev', '--port', 'abc'], /invalid --port "abc": not a number .*see fleetvault dev --help/],
    [['cert', 'sign', '--public-key', 'k.pub', '--ttl', '10'], /invalid --ttl "10": a duration needs a unit \(write 10s, 10m or 10h; see fleetvault cert sign --help\)/],
    [['cert', 'inspect'], /fleetvault cert inspect needs <cert-file> \(see fleetvault cert inspect --help\)/],
    [['dev', 'stop', '--port', '1'], /unknown option --port for fleetvault dev stop/],
  ];
  for (const [args, want] of cases) {
    test(`fleetvault ${args.join(' ') || '(nothing)'}`, async ({ tmp }) => {
      const r = await runCli(args, { env: { HOME: tmp } });
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr), r.stderr).toBe(true);
      expect(r.stderr.trim()).toMatch(want);
      // The hint once, not twice.
      expect(r.stderr.match(/--help/g)?.length ?? 0).toBeLessThanOrEqual(1);
      expect(r.stdout).toBe('');
    });
  }
});

describe('help at 80 and 200 columns', () => {
  const describes = [
    'configure an existing Vault/OpenBao with the fleetvault layout (idempotent)',
    'SSH certificates and provisioning secrets for balenaOS fleets, kept in Vault/OpenBao.',
    'log into a device with a fresh short-lived certificate (exit status is ssh\'s own)',
  ];
  for (const columns of ['80', '200']) {
    test(`COLUMNS=${columns}: no word broken, lines fit, shared options once`, async ({ tmp }) => {
      const top = await runCli(['--help'], { env: { HOME: tmp, COLUMNS: columns } });
      expect(top.code).toBe(0);
      for (const d of describes) expect(flat(top.stdout)).toContain(d);
      for (const l of top.stdout.split('\n')) expect(l.length, l).toBeLessThanOrEqual(Math.min(120, Number(columns)));
      expect(top.stdout.match(/--address/g)).toHaveLength(1);
      expect(top.stdout).toContain('Vault connection (every command):');

      const init = await runCli(['init', '--help'], { env: { HOME: tmp, COLUMNS: columns } });
      expect(flat(init.stdout)).toContain(describes[0]);
      // The command's own options first, the shared Vault options only pointed to.
      expect(init.stdout.indexOf('--dry-run')).toBeLessThan(init.stdout.indexOf('--json'));
      expect(init.stdout).not.toMatch(/^ +--(address|ssh-mount|namespace) /m);
      expect(flat(init.stdout)).toContain('work with every command: see `fleetvault --help`');
      expect(flat(init.stdout)).toContain('3 --dry-run found changes to make');
    });
  }

  test('dev stop --help lists none of dev\'s flags', async ({ tmp }) => {
    const r = await runCli(['dev', 'stop', '--help'], { env: { HOME: tmp, COLUMNS: '80' } });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/--port|--detach|--with-device/);
    const dev = await runCli(['dev', '--help'], { env: { HOME: tmp, COLUMNS: '80' } });
    expect(dev.stdout).toMatch(/--port/);
  });
});

test('init --dry-run exits 3 on drift and 0 when the server matches', async ({ vault, tmp, slug }) => {
  const matching = await runCli(['init', '--dry-run', '--json'], { env: { ...vault.env, HOME: tmp } });
  expect(matching.code, matching.stderr).toBe(0);
  expect(JSON.parse(matching.stdout)).toEqual({ changes: [] });
  // A layout nobody created yet: everything is drift.
  const drift = await runCli(['init', '--dry-run', '--json'], { env: { ...vault.env, HOME: tmp, FLEETVAULT_SSH_MOUNT: `ssh-new-${slug}` } });
  expect(drift.code, drift.stderr).toBe(3);
  expect(JSON.parse(drift.stdout).changes.length).toBeGreaterThan(0);
  expect(oneLine(drift.stderr)).toBe(true);
  expect(drift.stderr).toMatch(/differs from the fleetvault layout in \d+ places? \(run fleetvault init to apply them\)/);
  // Nothing was created.
  expect(await vault.root.readOptional(`sys/mounts/ssh-new-${slug}`).catch(() => null)).toBeNull();
});

test('ca public-key needs no token, like Vault', async ({ vault, tmp }) => {
  const env = { ...vault.env, HOME: tmp, VAULT_TOKEN: undefined };
  const r = await runCli(['ca', 'public-key', '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout).publicKey).toMatch(/^ssh-ed25519 AAAA/);
  const wrong = await runCli(['ca', 'public-key'], { env: { ...env, FLEETVAULT_SSH_MOUNT: 'no-such-mount' } });
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toMatch(/no SSH CA mount at no-such-mount\/.*check --ssh-mount/);
});

test('https:// to a plain-HTTP server says so instead of blaming TLS verification', async ({ vault, tmp }) => {
  const r = await runCli(['ca', 'public-key'], { env: { ...vault.env, HOME: tmp, VAULT_ADDR: vault.address.replace('http:', 'https:') } });
  expect(r.code).toBe(2);
  expect(oneLine(r.stderr)).toBe(true);
  expect(r.stderr).toMatch(/speaks plain HTTP, not TLS \(use http:\/\//);
  expect(r.stderr).not.toMatch(/verification/);
});
