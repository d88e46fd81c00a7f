import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';
import { scopeOptions, scopeFrom, type ScopeArgs } from '../access/scope-flags.js';

interface Args extends GlobalArgs, ScopeArgs {
  publicKey: string; from?: string[]; out?: string; ttl?: string; principal?: string[]; pty?: boolean; reason?: string; agent?: boolean;
}

export const certSignCommand: Command = {
  command: 'sign',
  describe: 'sign an existing SSH public key with the Vault CA',
  builder: (y) => scopeOptions(y, { breakGlass: 'the break-glass principal every device trusts; needs --reason' })
    .option('public-key', { type: 'string', demandOption: true, describe: 'the .pub file to certify' })
    .option('out', { type: 'string', describe: 'where to write the certificate (default <key>-cert.pub; - for stdout)' })
    .option('ttl', { type: 'string', describe: 'validity, e.g. 30m (default: the role\'s ttl; above its max_ttl is refused)' })
    .option('principal', { type: 'string', array: true, defaultDescription: 'root', describe: 'device user(s) the certificate is valid for' })
    .option('pty', { type: 'boolean', defaultDescription: 'true', describe: 'permit-pty extension (--no-pty for command-only certificates)' })
    .option('from', { type: 'string', array: true, describe: 'bind the certificate to these source CIDRs (source-address critical option)' })
    .option('reason', { type: 'string', describe: 'why you need access (recorded in the audit log)' })
    .option('agent', { type: 'boolean', describe: 'also add the private key (the .pub path without .pub) with the certificate to ssh-agent, for the certificate\'s lifetime' })
    .example('$0 cert sign --public-key ~/.ssh/id_ed25519.pub', 'writes ~/.ssh/id_ed25519-cert.pub valid for 30 minutes')
    .example('$0 cert sign --public-key k.pub --out - --ttl 10m --json', '')
    .example('$0 cert sign --public-key k.pub --fleet acme/sensors', 'a certificate for fleet-acme.sensors (needs a grant on that fleet)')
    .example('$0 cert sign --public-key k.pub --break-glass --reason "INC-42"', '')
    .example('$0 cert sign --public-key k.pub --fleet acme/sensors --from 198.51.100.7/32', 'valid only from that address'),
  handler: async (argv: Args) => {
    const { readInputFile } = await import('../../fs/atomic.js');
    const { durationToSeconds } = await import('../../config.js');
    const { checkUserPublicKey } = await import('../../ssh/keys.js');
    const { validatePrincipals } = await import('../../ssh/principals.js');
    // Everything local is checked before Vault is contacted: bad input writes nothing.
    const publicKey = readInputFile(argv.publicKey, 'public key', 64 * 1024).toString('utf8');
    checkUserPublicKey(publicKey, argv.publicKey);
    const scope = await scopeFrom(argv);
    if (scope && argv.principal !== undefined) {
      const { UsageError } = await import('../../errors.js');
      throw new UsageError('--principal cannot be combined with --device, --fleet or --break-glass: the scope names the principal');
    }
    if (scope) (await import('../../access/sign.js')).requireBreakGlassReason(scope, argv.reason);
    const principals = validatePrincipals(argv.principal ?? ['root']);
    const { validateCidrs } = await import('../../provision/cidr.js');
    const sourceAddress = argv.from === undefined ? undefined : validateCidrs(argv.from).join(',');
    const ttlSeconds = argv.ttl === undefined ? undefined : durationToSeconds(argv.ttl, 'ttl');
    const privateKey = argv.publicKey.replace(/\.pub$/, '');
    const out = argv.out ?? `${privateKey}-cert.pub`;
    if (argv.agent) {
      const { requireAgent } = await import('../../ssh/agent.js');
      requireAgent();
      readInputFile(privateKey, 'private key (needed for --agent)', 64 * 1024);
      if (out !== `${privateKey}-cert.pub`) {
        const { UsageError } = await import('../../errors.js');
        throw new UsageError('--agent needs the certificate next to the key (<key>-cert.pub); drop --out');
      }
    }
    const { config, client } = await vaultFrom(argv);
    const common = { client, mount: config.sshMount, publicKey, ttlSeconds, permitPty: argv.pty !== false, reason: argv.reason, sourceAddress };
    const signed = scope
      ? await (await import('../../access/sign.js')).signScoped({ ...common, scope })
      : await (await import('../../ssh/sign.js')).signUserKey({ ...common, role: config.sshRole, principals });
    if (out !== '-') {
      const { writeFileAtomic } = await import('../../fs/atomic.js');
      writeFileAtomic(out, signed.certificate, { mode: 0o644 });
    }
    if (argv.agent) {
      // ssh-add loads <key>-cert.pub along with <key>; the agent drops both when the certificate expires.
      const { addToAgent } = await import('../../ssh/agent.js');
      await addToAgent(privateKey, (Date.parse(signed.info.validBefore) - Date.now()) / 1000);
    }
    render(argv, { ...signed.info, serial: signed.serial, certificate: out === '-' ? signed.certificate.trim() : undefined, path: out === '-' ? undefined : out }, () =>
      out === '-' ? signed.certificate : `wrote ${out} (serial ${signed.serial}, principals ${signed.info.principals.join(',')}, valid until ${signed.info.validBefore})`);
  },
};
