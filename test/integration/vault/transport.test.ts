// node-vault's transport is node:http now (src/vault/http-transport.ts); with an HTTP proxy in the
// environment node-vault's own axios transport is kept, so proxies (and NO_PROXY) still work.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';

test('HTTP_PROXY is honoured (axios transport), NO_PROXY bypasses it; without a proxy node:http answers', { timeout: 60_000 }, async ({ vault, tmp }) => {
  // A "proxy" that answers every request with 502 and counts them.
  let seen = 0;
  const proxy = createServer((req, res) => { seen++; res.writeHead(502).end(); });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  try {
    const env = { ...vault.env, HOME: tmp };
    const direct = await runCli(['ca', 'public-key', '--json'], { env });
    expect(direct.code, direct.stderr).toBe(0);
    const viaProxy = await runCli(['ca', 'public-key', '--json'], { env: { ...env, HTTP_PROXY: proxyUrl } });
    expect(viaProxy.code).toBe(2);
    expect(seen).toBeGreaterThan(0);
    const before = seen;
    const bypass = await runCli(['ca', 'public-key', '--json'], { env: { ...env, HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' } });
    expect(bypass.code, bypass.stderr).toBe(0);
    expect(seen).toBe(before);
  } finally {
    await new Promise((r) => proxy.close(r));
  }
});
