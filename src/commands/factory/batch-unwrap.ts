import { configFrom, render, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { wrappingToken?: string; tokenFile?: string; out?: string }

export const factoryBatchUnwrapCommand: Command = {
  command: 'unwrap [wrapping-token]',
  describe: 'open a batch\'s wrapping token (once) and print the flasher secret_id',
  builder: (y) => y
    .positional('wrapping-token', { type: 'string', describe: '"-" reads it from stdin (preferred); a literal token is visible to other local users via ps' })
    .option('token-file', { type: 'string', describe: 'read the wrapping token from this file (e.g. on the USB stick)' })
    .option('out', { type: 'string', describe: 'write the secret_id to this file (mode 0600) instead of stdout' })
    .example('jq -r .wrappingToken batch.json | $0 factory batch unwrap - --json', '')
    .example('export FLEETVAULT_SECRET_ID=$($0 factory batch unwrap --token-file /media/usb/wrapping-token)', '')
    .epilogue('Token sources, in order: the argument ("-" = stdin), --token-file, FLEETVAULT_WRAPPING_TOKEN.\nA wrapping token works once: a second unwrap fails (exit 2) — if you did not do the first, revoke the batch.\nExit codes: 0 unwrapped · 1 no token given · 2 Vault refused (used, expired, not a secret_id)'),
  handler: async (argv: Args) => {
    const { readFileSync } = await import('node:fs');
    const { UsageError } = await import('../../errors.js');
    const { readInputFile, writeFileAtomic } = await import('../../fs/atomic.js');
    let token: string | undefined;
    // yargs-parser turns a lone "-" positional into "": both mean stdin.
    if (argv.wrappingToken === '-' || argv.wrappingToken === '') token = readFileSync(0, 'utf8');
    else if (argv.wrappingToken !== undefined && argv.wrappingToken !== process.env.FLEETVAULT_WRAPPING_TOKEN) token = argv.wrappingToken;
    else if (argv.tokenFile) token = readInputFile(argv.tokenFile, 'wrapping token', 4096).toString('utf8');
    else token = process.env.FLEETVAULT_WRAPPING_TOKEN;
    if (!token?.trim()) throw new UsageError('failed to unwrap: no wrapping token', { hint: 'pipe it in with "-", or use --token-file or FLEETVAULT_WRAPPING_TOKEN' });
    // No login: the wrapping token authenticates the unwrap, and an AppRole login here would
    // spend one of the batch's uses.
    const config = await configFrom(argv);
    const { clientFromSettings } = await import('../../vault/connect.js');
    const client = clientFromSettings(config);
    const { unwrapSecretId } = await import('../../provision/batch.js');
    const r = await unwrapSecretId({ client, wrappingToken: token, mount: config.approleMount, role: config.approleRole });
    if (argv.out) {
      writeFileAtomic(argv.out, r.secretId + '\n', { mode: 0o600 });
      render(argv, { path: argv.out }, () => `wrote the secret_id to ${argv.out}`);
      return;
    }
    render(argv, { secretId: r.secretId }, () => r.secretId);
  },
};
