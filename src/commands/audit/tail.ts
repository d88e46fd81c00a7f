import { note, type Command } from '../common.js';
import { filterOptions, logFilesFrom, pairingFrom, filterFrom, type AuditFilterArgs } from './options.js';

interface Args extends AuditFilterArgs { fromStart?: boolean }

export const auditTailCommand: Command = {
  command: 'tail',
  describe: 'follow the audit log live (survives rotation and truncation, like tail -F); Ctrl-C stops',
  builder: (y) => filterOptions(y)
    .option('from-start', { type: 'boolean', describe: 'print what the log already holds first', defaultDescription: 'false: only new events' })
    .example('$0 audit tail --kind denied', 'print refusals as they happen')
    .example('$0 audit tail --json | jq .actor', 'one JSON event per line'),
  handler: async (argv: Args) => {
    const files = await logFilesFrom(argv);
    if (files.length !== 1) {
      const { UsageError } = await import('../../errors.js');
      throw new UsageError('audit tail follows exactly one --log');
    }
    const filter = await filterFrom(argv);
    const { eventMatches, formatEventTable, statsLine } = await import('../../audit/report.js');
    const { tailAuditLog } = await import('../../audit/tail.js');
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let shown = 0;
    try {
      const stats = await tailAuditLog({
        file: files[0]!, signal: ac.signal, fromStart: argv.fromStart, ...(await pairingFrom(argv)),
        onReady: () => note(`audit: following ${files[0]} (Ctrl-C to stop)`),
        onEvent: (e) => {
          if (!eventMatches(e, filter)) return;
          const table = formatEventTable([e]);
          process.stdout.write((argv.json ? JSON.stringify(e) : table.slice(table.indexOf('\n') + 1)) + '\n');
          shown++;
        },
      });
      note(statsLine(stats, shown));
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
