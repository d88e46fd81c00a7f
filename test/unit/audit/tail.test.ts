// `audit tail` on real files: appends, a partial line completed later, rotation by rename, and
// truncation in place — with real records, no server needed.
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { tailAuditLog } from '../../../src/audit/tail.js';
import type { AuditEvent } from '../../../src/audit/events.js';

const lines = readFileSync(new URL('../../fixtures/audit/real.log', import.meta.url).pathname, 'utf8').split('\n').filter(Boolean);
const pair = (path: string) => {
  const i = lines.findIndex((l) => l.includes('"type":"request"') && l.includes(`"path":"${path}"`));
  return [lines[i]!, lines[i + 1]!];
};

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('follows appends, rotation and truncation like tail -F, and stops on abort', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fv-audit-tail-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'audit.log');
  writeFileSync(log, lines.slice(0, 20).join('\n') + '\n'); // already there: not printed
  const events: AuditEvent[] = [];
  const ac = new AbortController();
  let ready = false;
  const done = tailAuditLog({ file: log, signal: ac.signal, pollMs: 30, onEvent: (e) => events.push(e), onReady: () => { ready = true; } });
  await until(() => ready);

  const [signReq, signResp] = pair('ssh-client-signer/sign/engineer');
  appendFileSync(log, signReq + '\n' + signResp!.slice(0, 100));
  await new Promise((r) => setTimeout(r, 150));
  expect(events).toEqual([]); // the response is still half-written
  appendFileSync(log, signResp!.slice(100) + '\n');
  await until(() => events.length === 1);
  expect(events[0]).toMatchObject({ kind: 'ssh-sign', ok: true });

  // Rotation: the old file gets one more pair after the rename, then a new file appears.
  renameSync(log, log + '.1');
  const [encReq, encResp] = pair('transit/encrypt/balena-provisioning');
  appendFileSync(log + '.1', encReq + '\n' + encResp + '\n');
  const [decReq, decResp] = pair('transit/decrypt/balena-provisioning');
  writeFileSync(log, decReq + '\n' + decResp + '\n');
  await until(() => events.length === 3);
  expect(events.map((e) => e.kind)).toEqual(['ssh-sign', 'transit-encrypt', 'transit-decrypt']);

  // Truncation in place (copytruncate): read again from the start.
  truncateSync(log, 0);
  await new Promise((r) => setTimeout(r, 100));
  const [loginReq, loginResp] = pair('auth/approle/login');
  appendFileSync(log, loginReq + '\n' + loginResp + '\n');
  await until(() => events.length === 4);
  expect(events[3]).toMatchObject({ kind: 'login' });

  ac.abort();
  const stats = await done;
  rmSync(dir, { recursive: true, force: true });
  expect(stats.files).toBe(2);
  expect(stats.malformed).toBe(0);
});
