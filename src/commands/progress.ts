// A one-line progress bar on stderr, only when stderr is a terminal (never in pipes or CI logs).
import type { RolloutProgress } from '../ca/rollout.js';

export function progressBar(label: string) {
  const tty = process.stderr.isTTY;
  const width = 30;
  return {
    update(p: RolloutProgress) {
      if (!tty) return;
      const filled = Math.round((p.done / Math.max(1, p.total)) * width);
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}  changed ${p.changed}  already ${p.already}  failed ${p.failed}  `);
    },
    done() { if (tty) process.stderr.write('\n'); },
  };
}
