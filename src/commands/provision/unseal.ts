import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { sealed: string; out?: string; image?: string }

export const provisionUnsealCommand: Command = {
  command: 'unseal <sealed>',
  describe: 'decrypt an envelope into config.json (0600) or straight into a disk image\'s boot partition',
  builder: (y) => y
    .positional('sealed', { type: 'string', describe: 'the envelope from provision seal' })
    .option('out', { type: 'string', defaultDescription: 'config.json', describe: 'write the config.json here (atomic, mode 0600)' })
    .option('image', { type: 'string', describe: 'write config.json into partition 1 (boot, FAT) of this disk image instead; no plaintext file' })
    .conflicts('out', 'image')
    .example('FLEETVAULT_ROLE_ID=… FLEETVAULT_SECRET_ID=… $0 provision unseal config.sealed.json --image balena.img', 'factory flasher: one login, one decrypt')
    .example('$0 provision unseal config.sealed.json --out /tmp/config.json', '')
    .epilogue('Credentials: FLEETVAULT_ROLE_ID + FLEETVAULT_SECRET_ID (AppRole, one batch use per run) or a token.\nExit codes: 0 written · 1 malformed envelope or unusable target · 2 Vault refused (tampered, other fleet, retired key version, batch used up / revoked, outside the factory ranges)'),
  handler: async (argv: Args) => {
    const { readInputFile } = await import('../../fs/atomic.js');
    const { parseEnvelope, plaintextSize } = await import('../../provision/envelope.js');
    const { checkTarget, preflightTarget, writeConfigTarget } = await import('../../provision/target.js');
    const envelope = parseEnvelope(readInputFile(argv.sealed, 'sealed config', 1024 * 1024).toString('utf8'), argv.sealed);
    const target = { out: argv.out, image: argv.image };
    checkTarget(target);
    await preflightTarget(target, 'config.json', plaintextSize(envelope));
    // After the preflight: a login spends a batch use, so nothing may fail after it but Vault.
    const { client } = await vaultFrom(argv, { appRole: true });
    const { unsealEnvelope } = await import('../../provision/seal.js');
    const plaintext = await unsealEnvelope({ client, envelope, source: argv.sealed });
    const { written } = await writeConfigTarget(target, plaintext);
    render(argv, { path: written, fleet: envelope.fleet, keyVersion: envelope.keyVersion }, () => `unsealed ${argv.sealed} (fleet ${envelope.fleet}) → ${written}`);
  },
};
