import { note, vaultFrom, type Command } from '../common.js';
import { filterOptions, logFilesFrom, pairingFrom, filterFrom, writeOut, type AuditFilterArgs } from './options.js';

interface Args extends AuditFilterArgs { value?: string; device?: string }

export const auditResolveCommand: Command = {
  command: 'resolve [value]',
  describe: 'find the records carrying a known value that the log only holds as an HMAC (a ciphertext, a serial)',
  builder: (y) => filterOptions(y)
    .positional('value', { type: 'string', describe: 'the value; omitted or - reads it from stdin (use that for anything sensitive: argv is visible to every local user)' })
    .option('device', { type: 'string', describe: 'audit device path to hash with', defaultDescription: 'the device whose file_path is --log, else every device' })
    .example('$0 audit resolve vault:v1:AbC…', 'who decrypted this sealed config')
    .example('$0 audit resolve 4195330582153339327', 'who got the certificate with this serial (sshd logs it)')
    .epilogue('Needs a token allowed sys/audit-hash (the <prefix>-auditor policy). Exit codes: 0 ok · 1 bad flag or unreadable log · 2 Vault refused.'),
  handler: async (argv: Args) => {
    const files = await logFilesFrom(argv);
    const filter = await filterFrom(argv);
    let value = argv.value ?? '';
    // yargs turns a lone "-" into "": both mean stdin.
    if (value === '-' || value === '') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    }
    const { UsageError } = await import('../../errors.js');
    if (value === '') throw new UsageError('nothing to resolve: the value is empty');
    const { client } = await vaultFrom(argv);
    const { hashForAudit, matchStringsFor, isAuditHashLookup } = await import('../../audit/resolve.js');
    const hashes = await hashForAudit({ client, value, logFiles: files, device: argv.device });
    const { auditEvents, formatEventTable, statsLine } = await import('../../audit/report.js');
    const { emptyStats } = await import('../../audit/reader.js');
    const stats = emptyStats();
    const kinds = filter.kinds.length ? filter.kinds : ['all'];
    const events = [];
    let lookups = 0;
    for await (const e of auditEvents({ files, stats, ...(await pairingFrom(argv)), ...filter, kinds, match: matchStringsFor(value, hashes) })) {
      if (isAuditHashLookup(e)) lookups++;
      else events.push(e);
    }
    if (argv.json) await writeOut(JSON.stringify({ hashes, events, hashLookups: lookups }, null, 2) + '\n');
    else await writeOut((events.length ? formatEventTable(events) : `no records carry this value (hashed as ${hashes.map((h) => h.hash).join(', ')})`) + '\n');
    note(statsLine(stats, events.length) + (lookups ? `; ${lookups} hash lookup${lookups === 1 ? '' : 's'} of this value by audit resolve not shown` : ''));
  },
};
