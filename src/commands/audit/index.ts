import { note, type Command } from '../common.js';
import { filterOptions, logFilesFrom, pairingFrom, filterFrom, writeOut, type AuditFilterArgs } from './options.js';
import { auditTailCommand } from './tail.js';
import { auditSummaryCommand } from './summary.js';
import { auditAnomaliesCommand } from './anomalies.js';
import { auditResolveCommand } from './resolve.js';
import { auditWhoCanCommand } from './who-can.js';

// Rows rendered per table block: the table streams, so memory stays flat on any log size.
const TABLE_BLOCK = 500;

export const auditCommand: Command = {
  command: 'audit',
  describe: 'who got which certificate, who decrypted what: events from the Vault audit log',
  builder: (y) => filterOptions(y)
    .command(auditTailCommand)
    .command(auditSummaryCommand)
    .command(auditAnomaliesCommand)
    .command(auditResolveCommand)
    .command(auditWhoCanCommand)
    .example('$0 audit --since 24h', 'certificates, decrypts, logins and refusals of the last day')
    .example('$0 audit --log /var/log/bao/audit.log.1.gz --log /var/log/bao/audit.log --kind denied --json', 'refusals across a rotation, as JSON')
    .epilogue('Exit codes: 0 ok · 1 bad flag or unreadable log. A summary (events, malformed lines skipped) goes to stderr.'),
  handler: async (argv: AuditFilterArgs) => {
    const files = await logFilesFrom(argv);
    const filter = await filterFrom(argv);
    const { auditEvents, formatEventTable, statsLine } = await import('../../audit/report.js');
    const { emptyStats } = await import('../../audit/reader.js');
    const stats = emptyStats();
    let shown = 0;
    if (argv.json) {
      // A streamed JSON array: the whole report never sits in memory.
      await writeOut('[');
      for await (const e of auditEvents({ files, stats, ...(await pairingFrom(argv)), ...filter })) {
        await writeOut((shown++ === 0 ? '\n' : ',\n') + JSON.stringify(e));
      }
      await writeOut(shown ? '\n]\n' : ']\n');
    } else {
      let block: Parameters<typeof formatEventTable>[0] = [];
      const flush = async () => {
        if (!block.length) return;
        let text = formatEventTable(block);
        if (shown > block.length) text = text.slice(text.indexOf('\n') + 1); // header once
        block = [];
        await writeOut(text + '\n');
      };
      for await (const e of auditEvents({ files, stats, ...(await pairingFrom(argv)), ...filter })) {
        block.push(e);
        shown++;
        if (block.length >= TABLE_BLOCK) await flush();
      }
      await flush();
    }
    note(statsLine(stats, shown));
  },
};
