// sshKeyFingerprint decides whether an agent certificate is from the current CA: it must agree with
// ssh-keygen (and sshpk, which fingerprints the certificate's signing key) byte for byte.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sshpk from 'sshpk';
import { expect, test } from 'vitest';
import { sshKeyFingerprint } from '../../../src/ssh/agent.js';

test('matches ssh-keygen -l and sshpk for ed25519, ecdsa and rsa keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fv-agent-fp-'));
  try {
    for (const type of ['ed25519', 'ecdsa', 'rsa']) {
      const k = join(dir, type);
      execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'c o m m e n t', '-f', k]);
      const line = readFileSync(`${k}.pub`, 'utf8');
      const keygen = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${k}.pub`]).toString().split(' ')[1];
      expect(sshKeyFingerprint(line)).toBe(keygen);
      expect(sshKeyFingerprint(`${line.trim()}\n`)).toBe(sshpk.parseKey(line, 'ssh').fingerprint('sha256').toString());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
