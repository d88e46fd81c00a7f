// `ca add-to-config` on local files: idempotent, formatting kept, bad files refused untouched.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';

test('adds the CA line once, keeps other keys, order and indentation, and keeps a backup', async ({ vault, tmp }) => {
  const p = join(tmp, 'config.json');
  const original = '{\n    "uuid": "abc",\n    "os": {\n        "sshKeys": [\n            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6uI7J1oNBvzJBfO2Z4zvH7mBHo4LL0E1r4ES6t6Ttb op"\n        ]\n    },\n    "persistentLogging": true\n}\n';
  writeFileSync(p, original);
  const first = await runCli(['ca', 'add-to-config', p, '--json'], { env: vault.env });
  expect(first.code, first.stderr).toBe(0);
  expect(JSON.parse(first.stdout)).toMatchObject({ changed: true });
  const after = readFileSync(p, 'utf8');
  const parsed = JSON.parse(after);
  expect(Object.keys(parsed)).toEqual(['uuid', 'os', 'persistentLogging']);
  expect(parsed.os.sshKeys[0]).toMatch(/ op$/);
  expect(parsed.os.sshKeys[1]).toMatch(/^cert-authority,principals="root" /);
  expect(after).toMatch(/^\{\n {4}"uuid"/);
  expect(readFileSync(`${p}.fleetvault.bak`, 'utf8')).toBe(original);
  const second = await runCli(['ca', 'add-to-config', p, '--json'], { env: vault.env });
  expect(JSON.parse(second.stdout)).toMatchObject({ changed: false });
  expect(readFileSync(p, 'utf8')).toBe(after);
  // --remove-ca takes the CA out again (rotation's last stage).
  const fp = JSON.parse(first.stdout).fingerprint;
  const removed = await runCli(['ca', 'add-to-config', p, '--remove-ca', fp, '--principals', 'root', '--json', '--dry-run'], { env: vault.env });
  expect(removed.code).toBe(0);
});

test('bad config.json inputs: exit 1, one line, file unchanged, nothing created', async ({ vault, tmp }) => {
  const op = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6uI7J1oNBvzJBfO2Z4zvH7mBHo4LL0E1r4ES6t6Ttb op';
  const cases: Record<string, Buffer | string> = {
    empty: '',
    truncated: '{"os": {"sshKeys": ["a"',
    bom: '\ufeff{"os": {}}\n',
    crlf: '{\r\n  "os": {}\r\n}\r\n',
    osNull: '{"os": null}\n',
    sshKeysString: '{"os": {"sshKeys": "cert-authority x"}}\n',
    entryNewline: JSON.stringify({ os: { sshKeys: [`${op}\ncert-authority ssh-ed25519 AAAA`] } }),
    entryNul: JSON.stringify({ os: { sshKeys: [`${op}\u0000`] } }),
    array: '[1,2,3]\n',
    huge: JSON.stringify({ os: { sshKeys: [] }, pad: 'x'.repeat(2 * 1024 * 1024) }),
  };
  for (const [name, content] of Object.entries(cases)) {
    const p = join(tmp, `${name}.json`);
    writeFileSync(p, content);
    const before = readFileSync(p);
    const r = await runCli(['ca', 'add-to-config', p], { env: vault.env });
    expect(r.code, `${name}: ${r.stderr}`).toBe(1);
    expect(r.stderr.trim().split('\n'), name).toHaveLength(1);
    expect(readFileSync(p).equals(before), name).toBe(true);
    expect(existsSync(`${p}.fleetvault.bak`), name).toBe(false);
  }
});

test('--scoped writes the device\'s scoped line (replacing a principals="root" line of the CA); needs --device and --fleet', async ({ vault, tmp }) => {
  const uuid = '0123456789abcdef0123456789abcdef';
  const p = join(tmp, 'config.json');
  const root = (await runCli(['ca', 'authorized-key'], { env: vault.env })).stdout.trim();
  writeFileSync(p, JSON.stringify({ uuid, os: { sshKeys: [root] } }, null, 2) + '\n');
  const r = await runCli(['ca', 'add-to-config', p, '--scoped', '--device', uuid, '--fleet', 'Acme/Sensors', '--json'], { env: vault.env });
  expect(r.code, r.stderr).toBe(0);
  const scoped = root.replace('principals="root"', `principals="device-${uuid},fleet-acme.sensors,break-glass"`);
  expect(JSON.parse(r.stdout)).toMatchObject({ changed: true, added: [scoped], removed: [root] });
  // A file logs nobody in: there is no access to keep, so the CA's root line is replaced in place.
  expect(JSON.parse(readFileSync(p, 'utf8')).os.sshKeys).toEqual([scoped]);
  const again = await runCli(['ca', 'add-to-config', p, '--scoped', '--device', uuid, '--fleet', 'acme/sensors', '--json'], { env: vault.env });
  expect(JSON.parse(again.stdout)).toMatchObject({ changed: false });

  for (const args of [['--scoped', '--fleet', 'acme/sensors'], ['--device', uuid, '--fleet', 'acme/sensors'], ['--scoped', '--device', uuid, '--fleet', 'acme/sensors', '--principals', 'root'], ['--scoped', '--device', 'nope', '--fleet', 'acme/sensors']]) {
    const bad = await runCli(['ca', 'add-to-config', p, ...args], { env: vault.env });
    expect(bad.code, args.join(' ')).toBe(1);
    expect(bad.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
  }
  expect(JSON.parse(readFileSync(p, 'utf8')).os.sshKeys).toEqual([scoped]);

  // Review #14: without --scoped the root line does not silently replace the scoped one (any root
  // certificate would open the device again), and --device must be the file's own uuid.
  const before = readFileSync(p);
  const refusals: [string[], RegExp][] = [
    [[], /trusts CA SHA256:\S+ for scoped principals only; refusing an unscoped line \(principals="root"\) .*left unchanged: add --scoped to keep it scoped, or --unscope to replace it on purpose/],
    [['--scoped', '--device', 'f'.repeat(32), '--fleet', 'acme/sensors'], new RegExp(`belongs to device ${uuid}, not ${'f'.repeat(32)}: refusing`)],
  ];
  for (const [args, why] of refusals) {
    const bad = await runCli(['ca', 'add-to-config', p, ...args], { env: vault.env });
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    expect(bad.stderr).toMatch(why);
    expect(readFileSync(p).equals(before)).toBe(true);
  }
  // Review #14b: --principals never names scoped principals (that skipped the uuid check and the
  // downgrade refusal); a config.json uuid that is not a string is refused; a principals="break-glass"
  // line is not replaced by root silently.
  const writeKeys = (keys: string[], id: unknown = uuid) => writeFileSync(p, JSON.stringify({ uuid: id, os: { sshKeys: keys } }, null, 2) + '\n');
  const b14: [string[], unknown, string[], RegExp][] = [
    [['--principals', `device-${'f'.repeat(32)}`, '--principals', 'fleet-acme.b'], uuid, [scoped], /^fleetvault: ca add-to-config --principals device-f+ refused: .*use --scoped/],
    [['--principals', 'break-glass'], uuid, [scoped], /--principals break-glass refused/],
    [['--scoped', '--device', uuid, '--fleet', 'acme/sensors'], ['f'.repeat(32)], [root], /has a "uuid" that is not a string: refusing/],
    [['--scoped', '--device', uuid, '--fleet', 'acme/sensors'], 7, [root], /has a "uuid" that is not a string/],
    [[], uuid, [root.replace('principals="root"', 'principals="break-glass"')], /for scoped principals only; refusing an unscoped line/],
    [[], uuid, [scoped.replace('cert-authority,', 'CERT-AUTHORITY,')], /for scoped principals only; refusing an unscoped line/],
  ];
  for (const [args, id, keys, why] of b14) {
    writeKeys(keys, id);
    const was = readFileSync(p);
    const bad = await runCli(['ca', 'add-to-config', p, ...args], { env: vault.env });
    expect(bad.code, `${args.join(' ')}: ${bad.stderr}`).toBe(1);
    expect(bad.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    expect(bad.stderr).toMatch(why);
    expect(readFileSync(p).equals(was)).toBe(true);
  }
  writeKeys([scoped]);
  const unscoped = await runCli(['ca', 'add-to-config', p, '--unscope', '--json'], { env: vault.env });
  expect(unscoped.code, unscoped.stderr).toBe(0);
  expect(JSON.parse(readFileSync(p, 'utf8')).os.sshKeys).toEqual([root]);
});
