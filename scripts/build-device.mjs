// Copies the simulated balenaOS device's own programs (shell scripts and the libnss-ato shim's C
// source, src/dev/balenaos/files) into dist/balenaos-files, where the npm package has them: tsc
// emits only what it compiles. Its host process (dist/dev/balenaos/host.js) is tsc's own output.
import { chmodSync, cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const from = 'src/dev/balenaos/files';
const to = 'dist/balenaos-files';
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
// Modes as the device runs them, whatever the checkout's umask or a packer kept: the scripts
// executable, the C source readable.
const walk = (d) => {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) { chmodSync(p, 0o755); walk(p); } else chmodSync(p, p.endsWith('.c') ? 0o644 : 0o755);
  }
};
walk(to);
