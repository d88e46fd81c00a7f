import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { batch: string; auditLog?: string[]; fleet?: string; balenaUrl?: string }

export const factoryReconcileCommand: Command = {
  command: 'reconcile',
  describe: 'compare a batch\'s decrypts (audit log) with its quota, its CIDRs and the devices registered in balena',
  builder: (y) => y
    .option('batch', { type: 'string', demandOption: true, describe: 'batch name' })
    .option('audit-log', { type: 'string', array: true, describe: 'audit log file(s), oldest first (.gz ok)', defaultDescription: 'FLEETVAULT_AUDIT_LOG or the dev server\'s' })
    .option('fleet', { type: 'string', describe: 'also count devices registered in this fleet since the batch began (BALENA_TOKEN)' })
    .option('balena-url', { type: 'string', defaultDescription: 'https://api.balena-cloud.com' })
    .example('$0 factory reconcile --batch line3-w24 --audit-log /var/log/openbao/audit.log --fleet acme/sensors', '')
    .epilogue('Exit status: 0 when nothing is off; 2 when there are findings (surplus decrypts or registrations, decrypts outside the factory ranges).'),
  handler: async (argv: Args) => {
    const { UsageError, PassThroughExit } = await import('../../errors.js');
    const { validateBatchName } = await import('../../provision/batch.js');
    const { logFilesFrom } = await import('../audit/options.js');
    const name = validateBatchName(argv.batch);
    const files = await logFilesFrom({ log: argv.auditLog });
    const token = process.env.BALENA_TOKEN;
    if (argv.fleet && !token) throw new UsageError('--fleet needs a balena API key in BALENA_TOKEN');
    const { config, client } = await vaultFrom(argv);
    const { reconcileBatch } = await import('../../provision/reconcile.js');
    const r = await reconcileBatch({
      client, approleMount: config.approleMount, approleRole: config.approleRole, transitMount: config.transitMount, transitKey: config.transitKey,
      batch: name, auditFiles: files, fleet: argv.fleet, balena: token ? { apiUrl: argv.balenaUrl, token } : undefined,
    });
    render(argv, r, () => [
      `batch ${r.batch}: quota ${r.quota ?? 'unknown'}${r.vault ? `, ${r.vault.usesLeft ?? '?'} uses left, CIDRs ${r.vault.cidrs.join(', ') || 'any'}` : ' (no longer in Vault: revoked or expired)'}`,
      `logins ${r.logins.ok} ok / ${r.logins.refused} refused; decrypts ${r.decrypts.ok} ok / ${r.decrypts.refused} refused, ${r.decrypts.outsideCidrs} outside the ranges`,
      ...(r.registered === undefined ? [] : [`devices registered since the batch began: ${r.registered}`]),
      ...(r.findings.length ? r.findings.map((f) => `FINDING ${f.type}: ${f.message}`) : ['no findings']),
    ].join('\n'));
    if (r.findings.length) throw new PassThroughExit(2);
  },
};
