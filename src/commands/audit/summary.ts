import { note, render, type Command } from '../common.js';
import { filterOptions, logFilesFrom, pairingFrom, filterFrom, type AuditFilterArgs } from './options.js';

export const auditSummaryCommand: Command = {
  command: 'summary',
  describe: 'count events per kind and per actor over the whole log (one streaming pass)',
  builder: (y) => filterOptions(y)
    .example('$0 audit summary --kind all --json', 'every record, counted by kind and actor'),
  handler: async (argv: AuditFilterArgs) => {
    const files = await logFilesFrom(argv);
    const filter = await filterFrom(argv);
    const { summarizeAuditLog, statsLine } = await import('../../audit/report.js');
    const { escapeControl } = await import('../../errors.js');
    const s = await summarizeAuditLog({ files, ...(await pairingFrom(argv)), ...filter });
    render(argv, s, () => {
      // To the second, like the event table: the JSON view keeps milliseconds.
      const second = (t: string) => t.replace(/\.\d+Z$/, 'Z');
      const lines = [`${s.events} events, ${s.refused} refused${s.first ? `, ${second(s.first)} → ${second(s.last!)}` : ''}`, '', 'KIND              OK  REFUSED'];
      for (const [k, v] of Object.entries(s.byKind)) lines.push(`${k.padEnd(16)} ${String(v!.ok).padStart(4)} ${String(v!.refused).padStart(8)}`);
      lines.push('', 'ACTOR                            EVENTS');
      const actors = Object.entries(s.byActor)
        .map(([a, k]) => [a, Object.values(k).reduce((x, y) => x + (y ?? 0), 0)] as const)
        .sort((a, b) => b[1] - a[1]);
      for (const [a, n] of actors.slice(0, 20)) lines.push(`${escapeControl(a).padEnd(32)} ${String(n).padStart(6)}`);
      if (actors.length > 20) lines.push(`… and ${actors.length - 20} more (--json for all)`);
      return lines.join('\n');
    });
    note(statsLine(s.stats, s.events));
  },
};
