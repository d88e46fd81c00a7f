// The simulated device's AuthorizedKeysCommand must pass sshd's path check (root-owned, not
// group/world writable, every component) wherever HOME or TMPDIR is.
import { describe, expect, it } from 'vitest';
import { authorizedKeysCommand, findJq } from '../../../src/dev/device.js';

describe('simulated device', () => {
  it('runs the system jq directly: no helper under $HOME or /tmp', () => {
    const jq = findJq({ PATH: '/usr/bin:/bin', HOME: '/tmp/fv.x' });
    expect(jq).toMatch(/^\/(usr\/)?(local\/)?bin\/jq$/);
    expect(authorizedKeysCommand('/tmp/fv.x/state/config.json', jq)).toBe(`${jq} -r '(.os.sshKeys // []) | if type == "array" then .[] | select(type == "string") else empty end' /tmp/fv.x/state/config.json`);
  });

  it('refuses config paths sshd would split or %-expand', () => {
    for (const p of ['/tmp/a b/config.json', '/tmp/a%h/config.json', "/tmp/a'/c", '/tmp/a"/c', '/tmp/a\\b']) {
      expect(() => authorizedKeysCommand(p, '/usr/bin/jq')).toThrow(/and sshd cannot pass it/);
    }
  });
});
