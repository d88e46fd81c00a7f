// openTunnel against hand-written proxy answers (a local TLS server with the test CA): the header
// may arrive in pieces or together with the device's first bytes; every refusal is one clear line.
import { createServer, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '../../support/context.js';
import { makeTlsMaterial } from '../../support/tls.js';
import { openTunnel } from '../../../src/device/tunnel.js';
import { DeviceError } from '../../../src/errors.js';

const UUID = 'ab'.repeat(16);

async function proxy(tmp: string, answer: (s: TLSSocket, request: string) => void) {
  const tls = makeTlsMaterial(join(tmp, 'tls'));
  const seen: string[] = [];
  const server = createServer({ key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile) }, (s) => {
    let buf = '';
    s.on('error', () => {});
    s.on('data', function onData(d) {
      buf += d.toString('latin1');
      if (buf.includes('\r\n\r\n')) { s.removeListener('data', onData); seen.push(buf); answer(s, buf); }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const open = (timeoutMs = 5000) => openTunnel({ tunnel: { host: '127.0.0.1', port }, uuid: UUID, port: 22222, user: 'alice', token: 'tok', ca: readFileSync(tls.caFile), timeoutMs });
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return { open, seen, stop: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}

test('200 in pieces, with the device\'s first bytes in the same packet: nothing is lost', async ({ tmp }) => {
  const p = await proxy(tmp, (s) => {
    const answer = 'HTTP/1.0 200 Connection Established\r\n\r\nSSH-2.0-OpenSSH_9.6\r\n';
    // Byte by byte up to the blank line, then the rest together with the banner.
    let i = 0;
    const step = () => { if (i < 30) { s.write(answer[i++]!); setTimeout(step, 1); } else s.write(answer.slice(30)); };
    step();
  });
  try {
    const sock = await p.open();
    const first = await new Promise<string>((r) => { sock.once('data', (d) => r(d.toString())); sock.resume(); });
    expect(first).toBe('SSH-2.0-OpenSSH_9.6\r\n');
    sock.destroy();
    expect(p.seen[0]).toBe(`CONNECT ${UUID}.balena:22222 HTTP/1.0\r\nProxy-Authorization: Basic ${Buffer.from('alice:tok').toString('base64')}\r\n\r\n`);
  } finally {
    await p.stop();
  }
});

test('refusals and nonsense become one-line DeviceErrors', async ({ tmp }) => {
  const cases: Array<[string, RegExp]> = [
    ['HTTP/1.1 407 Proxy Authorization Required\r\n\r\n', /refused the credentials \(407\)/],
    ['HTTP/1.0 404 Not Found\r\n\r\n', /knows no such device \(404\)/],
    ['HTTP/1.0 503 Service Unavailable\r\n\r\n', /device is offline \(503/],
    ['HTTP/1.1 500 Internal Server Error\r\n\r\n', /answered 500 Internal Server Error/],
    ['HTTP/1.0 200\u001b[2J OK\r\n\r\n', /not HTTP/],
    ['SSH-2.0-OpenSSH_9.6\r\n', /not HTTP/],
    ['HTTP/1.0 200 ' + 'x'.repeat(20000), /not HTTP/],
  ];
  let next = 0;
  const p = await proxy(tmp, (s) => { s.end(cases[next]![0]); });
  try {
    for (; next < cases.length; next++) {
      const e = await p.open().then(() => undefined, (x: unknown) => x);
      expect(e, cases[next]![0].slice(0, 40)).toBeInstanceOf(DeviceError);
      expect((e as Error).message).toMatch(cases[next]![1]);
      expect((e as Error).message).not.toMatch(/[\n\u001b]/);
    }
  } finally {
    await p.stop();
  }
});

test('a tunnel that never answers times out with one line', async ({ tmp }) => {
  const p = await proxy(tmp, () => { /* silent: reads the request, never answers */ });
  try {
    const t0 = Date.now();
    const e = await p.open(400).then(() => undefined, (x: unknown) => x as Error);
    expect(e).toBeInstanceOf(DeviceError);
    expect(e!.message).toMatch(/failed to reach .*\.balena:22222 through the balena tunnel 127\.0\.0\.1:\d+: no answer within 400ms/);
    expect(Date.now() - t0).toBeLessThan(3000);
  } finally {
    await p.stop();
  }
});

test('bare LF line ends (HTTP/1.0 200 OK\\n\\n) are accepted as HTTP parsers accept them, not a 15 s timeout', async ({ tmp }) => {
  const p = await proxy(tmp, (s) => { s.write('HTTP/1.0 200 OK\nX-Proxy: t\n\nSSH-2.0-OpenSSH_9.6\r\n'); });
  try {
    const t0 = Date.now();
    const sock = await p.open(3000);
    const first = await new Promise<string>((r) => { sock.once('data', (d) => r(d.toString())); sock.resume(); });
    expect(first).toBe('SSH-2.0-OpenSSH_9.6\r\n');
    expect(Date.now() - t0).toBeLessThan(2000);
    sock.destroy();
  } finally {
    await p.stop();
  }
  const refused = await proxy(tmp, (s) => { s.write('HTTP/1.0 407 Proxy Authorization Required\n\n'); });
  try {
    await expect(refused.open(3000)).rejects.toThrow(/refused the credentials \(407\)/);
  } finally {
    await refused.stop();
  }
});
