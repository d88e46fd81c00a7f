import { configFrom, render, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { dir: string; outDir: string; journal?: string; concurrency?: number }

export const provisionUnsealBatchCommand: Command = {
  command: 'unseal-batch <dir>',
  describe: 'unseal a directory of envelopes into config.json files (0600), resumably: a factory run',
  builder: (y) => y
    .positional('dir', { type: 'string', describe: 'directory of envelopes (<name>.sealed.json → <name>.config.json)' })
    .option('out-dir', { type: 'string', demandOption: true, describe: 'where the config.json files go (created 0700)' })
    .option('journal', { type: 'string', describe: 'journal of done envelopes; a re-run skips them', defaultDescription: '<out-dir>/.fleetvault-unseal-journal.jsonl' })
    .option('concurrency', { type: 'number', describe: 'envelopes in flight at once', defaultDescription: '4' })
    .example('FLEETVAULT_ROLE_ID=… FLEETVAULT_SECRET_ID=… $0 provision unseal-batch sealed/ --out-dir configs/', 'one AppRole login (one batch use) per envelope')
    .example('$0 provision unseal-batch sealed/ --out-dir configs/ --concurrency 8', 'after a crash: the same command resumes')
    .epilogue('Each envelope counts as done only after its file is written and its journal line is synced; after a crash of this tool or of Vault, run the same command again. Envelopes in flight at the crash (at most --concurrency) are decrypted again, each spending one more AppRole batch use.\nExit codes: 0 all unsealed · 1 malformed envelope, unwritable --out-dir · 2 Vault refused or unreachable (the journal keeps what was done)'),
  handler: async (argv: Args) => {
    const config = await configFrom(argv);
    const { unsealBatch, flasherSession } = await import('../../provision/factory-run.js');
    const report = await unsealBatch({
      envelopesDir: argv.dir, outDir: argv.outDir, journalPath: argv.journal, concurrency: argv.concurrency,
      session: flasherSession(config),
    });
    render(argv, report, () => `unsealed ${report.unsealed} envelope(s) into ${report.outDir}${report.skipped ? ` (${report.skipped} already done per ${report.journal})` : ''}`);
  },
};
