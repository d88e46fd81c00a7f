import { note, render, type Command } from '../common.js';
import { filterOptions, logFilesFrom, pairingFrom, filterFrom, type AuditFilterArgs } from './options.js';

interface Args extends AuditFilterArgs {
  cidr?: string[]; maxPerMinute?: number; expectedPrincipals?: string[]; maxTtl?: string; minRefusals?: number;
}

export const auditAnomaliesCommand: Command = {
  command: 'anomalies',
  describe: 'decrypts from outside the factory, bursts, unusual certificates, refusals per source',
  builder: (y) => filterOptions(y)
    .option('cidr', { type: 'string', array: true, describe: 'factory range(s): successful decrypts from elsewhere are reported (check off without it)' })
    .option('max-per-minute', { type: 'number', describe: 'requests per actor within 60 s before it is a burst', defaultDescription: '60' })
    .option('expected-principals', { type: 'string', array: true, describe: 'principals certificates are normally issued for', defaultDescription: 'root' })
    .option('max-ttl', { type: 'string', describe: 'certificates requested for longer are reported', defaultDescription: '1h' })
    .option('min-refusals', { type: 'number', describe: 'report a source address from this many refusals', defaultDescription: '1' })
    .example('$0 audit anomalies --cidr 203.0.113.0/24 --since 7d', '')
    .epilogue('Exit codes: 0 ok (anomalies or not; their count is on stderr) · 1 bad flag or unreadable log.'),
  handler: async (argv: Args) => {
    const files = await logFilesFrom(argv);
    const filter = await filterFrom(argv);
    const { UsageError, escapeControl } = await import('../../errors.js');
    const { durationToSeconds } = await import('../../config.js');
    const { validateCidrs } = await import('../../provision/cidr.js');
    const { validatePrincipals } = await import('../../ssh/principals.js');
    for (const [name, v] of [['max-per-minute', argv.maxPerMinute], ['min-refusals', argv.minRefusals]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new UsageError(`invalid --${name} "${v}"`, { hint: 'a whole number ≥ 1' });
    }
    const factoryCidrs = argv.cidr?.length ? validateCidrs(argv.cidr) : undefined;
    const expectedPrincipals = argv.expectedPrincipals?.length ? validatePrincipals(argv.expectedPrincipals.flatMap((p) => p.split(','))) : undefined;
    const maxTtlSeconds = argv.maxTtl === undefined ? undefined : durationToSeconds(argv.maxTtl, 'max-ttl');
    const { auditEvents, statsLine } = await import('../../audit/report.js');
    const { emptyStats } = await import('../../audit/reader.js');
    const { findAnomalies } = await import('../../audit/anomalies.js');
    const stats = emptyStats();
    // Anomalies look at every event, including `other` refusals, unless --kind narrows it.
    const kinds = filter.kinds.length ? filter.kinds : ['all'];
    const anomalies = await findAnomalies(auditEvents({ files, stats, ...(await pairingFrom(argv)), ...filter, kinds }), {
      factoryCidrs, maxPerMinute: argv.maxPerMinute, expectedPrincipals, maxTtlSeconds, minRefusals: argv.minRefusals,
    });
    render(argv, anomalies, () => anomalies.length === 0 ? 'no anomalies' : anomalies.map((a) =>
      escapeControl(`${a.time.replace(/\.\d+Z$/, 'Z')}  ${a.type.padEnd(23)} ${(a.actor ?? '-').padEnd(20)} ${(a.remoteAddress ?? '-').padEnd(15)} ${a.message}`)).join('\n'));
    note(`${statsLine(stats, stats.events)}; ${anomalies.length} anomal${anomalies.length === 1 ? 'y' : 'ies'}`);
  },
};
