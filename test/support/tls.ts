// TLS material made with the real openssl, and an extra OpenBao dev server with the listeners the
// security suite needs: one TLS listener with our own CA (VAULT_SKIP_VERIFY / VAULT_CACERT tests),
// and one plain listener that trusts X-Forwarded-For from 127.0.0.1 (proxy trust tests). The dev
// listener itself stays plain HTTP and trusts no X-Forwarded-For: the "untrusting" listener.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDevServer, type DevServer } from '../../src/dev/openbao.js';
import { freePort } from '../../src/dev/free-port.js';
import { findVaultBinary } from '../../src/dev/find-binary.js';

export interface TlsMaterial { caFile: string; certFile: string; keyFile: string }

function openssl(args: string[], cwd: string): void {
  // Fail loudly: a missing openssl is a broken test machine, not a reason to skip.
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A throw-away CA and a server certificate for 127.0.0.1 / localhost signed by it. */
export function makeTlsMaterial(dir: string): TlsMaterial {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=fleetvault test CA', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1',
    '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'server.ext'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ].join('\n') + '\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'server.ext', '-out', 'server.pem'], dir);
  return { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
}

export interface SecurityServer {
  server: DevServer;
  tls: TlsMaterial;
  /** The dev listener: plain HTTP, no X-Forwarded-For trust. */
  plainAddress: string;
  /** TLS listener with the certificate of `tls`. */
  tlsAddress: string;
  /** Plain HTTP listener that trusts X-Forwarded-For from 127.0.0.1 (and rejects it from others). */
  trustingAddress: string;
  stop(): Promise<void>;
}

/** A second OpenBao (not the shared one: its listeners are part of what is tested). */
export async function startSecurityServer(dir: string): Promise<SecurityServer> {
  const bin = findVaultBinary();
  if (!bin) throw new Error('OpenBao binary not found (run scripts/install-tools.sh)');
  const tls = makeTlsMaterial(join(dir, 'tls'));
  const tlsPort = await freePort('127.0.0.1');
  const xffPort = await freePort('127.0.0.1');
  const extraConfig = [
    'listener "tcp" {',
    `  address = "127.0.0.1:${tlsPort}"`,
    `  tls_cert_file = ${JSON.stringify(tls.certFile)}`,
    `  tls_key_file = ${JSON.stringify(tls.keyFile)}`,
    '}',
    'listener "tcp" {',
    `  address = "127.0.0.1:${xffPort}"`,
    '  tls_disable = true',
    '  x_forwarded_for_authorized_addrs = "127.0.0.1/32"',
    '  x_forwarded_for_reject_not_authorized = true',
    '  x_forwarded_for_hop_skips = 0',
    '}',
  ].join('\n');
  const server = await startDevServer({ dir: join(dir, 'bao'), bin, extraConfig });
  return {
    server, tls, plainAddress: server.address,
    tlsAddress: `https://127.0.0.1:${tlsPort}`,
    trustingAddress: `http://127.0.0.1:${xffPort}`,
    stop: () => server.stop(),
  };
}
