import { escapeControl } from '../errors.js';
import type { RolloutReport } from './rollout.js';

/** The human summary table of a rollout. */
export function renderRolloutReport(r: RolloutReport): string {
  const rows = r.devices.map((d) => [d.name, `${d.host}:${d.port}`, d.status, escapeControl(d.reason ?? (d.migrated ? 'migrated: scoped line proven, unscoped line removed' : ''))]);
  const head = ['DEVICE', 'ADDRESS', 'STATUS', 'REASON'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd();
  return [
    line(head),
    ...rows.map(line),
    '',
    `${r.dryRun ? 'dry run: ' : ''}${r.changed} changed, ${r.already} already, ${r.failed} failed, ${r.skipped} skipped of ${r.total} (CA ${r.caFingerprint})${r.journal ? `; journal ${r.journal}` : ''}`,
  ].join('\n');
}
