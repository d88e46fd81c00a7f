import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { config: string; fleet: string; out?: string }

export const provisionSealCommand: Command = {
  command: 'seal <config>',
  describe: 'encrypt a config.json for one fleet with the transit key (an envelope safe to ship in images)',
  builder: (y) => y
    .positional('config', { type: 'string', describe: 'the plaintext config.json' })
    .option('fleet', { type: 'string', demandOption: true, describe: 'fleet slug (org/fleet); binds the envelope to this fleet' })
    .option('out', { type: 'string', defaultDescription: '<config>.sealed.json', describe: 'where to write the envelope' })
    .example('$0 provision seal config.json --fleet acme/sensors --out config.sealed.json', '')
    .epilogue('Exit codes: 0 sealed · 1 bad input (not a JSON object, bad flags) · 2 Vault refused'),
  handler: async (argv: Args) => {
    const { readInputFile, writeFileAtomic } = await import('../../fs/atomic.js');
    const { parseConfigObject, validateFleetSlug, formatEnvelope } = await import('../../provision/envelope.js');
    const { UsageError } = await import('../../errors.js');
    // Local checks first: bad input never reaches Vault and writes nothing.
    const plaintext = readInputFile(argv.config, 'config');
    parseConfigObject(plaintext, argv.config);
    validateFleetSlug(argv.fleet);
    const out = argv.out ?? argv.config.replace(/(\.json)?$/, '.sealed.json');
    if (out === argv.config) throw new UsageError('--out must differ from the plaintext config');
    const { config, client } = await vaultFrom(argv);
    const { sealConfig } = await import('../../provision/seal.js');
    const envelope = await sealConfig({ client, mount: config.transitMount, key: config.transitKey, fleet: argv.fleet, plaintext, source: argv.config });
    writeFileAtomic(out, formatEnvelope(envelope), { mode: 0o644 });
    render(argv, { path: out, mount: envelope.mount, key: envelope.key, keyVersion: envelope.keyVersion, fleet: envelope.fleet, createdAt: envelope.createdAt }, () =>
      `sealed ${argv.config} for ${envelope.fleet} → ${out} (${envelope.mount}/${envelope.key} v${envelope.keyVersion})`);
  },
};
