import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { sealed: string[] }

export const provisionRewrapCommand: Command = {
  command: 'rewrap <sealed..>',
  describe: 'move envelopes to the newest transit key version (one batch request; plaintext never leaves Vault)',
  builder: (y) => y
    .positional('sealed', { type: 'string', array: true, describe: 'envelopes to rewrap in place' })
    .example('$0 provision rewrap sealed/*.json', 'after: bao write transit/keys/balena-provisioning/rotate')
    .epilogue('After rewrapping every envelope, retire old versions: bao write transit/keys/<key>/config min_decryption_version=<newest>.\nOld copies of an envelope (images already shipped) then fail to unseal.\nExit codes: 0 rewrapped · 1 malformed envelope (nothing written) · 2 Vault refused an envelope (nothing written)'),
  handler: async (argv: Args) => {
    const { readInputFile } = await import('../../fs/atomic.js');
    const { parseEnvelope, formatEnvelope } = await import('../../provision/envelope.js');
    // All envelopes are parsed before Vault is asked, and all are rewrapped before any is written.
    const envelopes = argv.sealed.map((p) => parseEnvelope(readInputFile(p, 'sealed config', 1024 * 1024).toString('utf8'), p));
    const { client } = await vaultFrom(argv);
    const { rewrapEnvelopes } = await import('../../provision/seal.js');
    const results = await rewrapEnvelopes({ client, envelopes });
    // A crash part-way leaves each envelope old or new, never torn; old ones still decrypt until
    // min_decryption_version is raised, so rerunning rewrap is always safe.
    const { writeFilesAtomic } = await import('../../fs/atomic.js');
    // Envelopes are edited in place, like config.json: a symlinked one is rewritten where it lives.
    await writeFilesAtomic(results.map((r, i) => ({ path: argv.sealed[i]!, data: formatEnvelope(r.envelope), mode: 0o644, symlink: 'resolve' as const })));
    const rows = results.map((r, i) => ({ path: argv.sealed[i]!, fleet: r.envelope.fleet, fromVersion: r.fromVersion, toVersion: r.toVersion }));
    render(argv, rows, () => rows.map((r) => `${r.path}: v${r.fromVersion} → v${r.toVersion}`).join('\n'));
  },
};
