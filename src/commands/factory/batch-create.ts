import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { name: string; count: number; cidr: string[]; fleet: string[]; ttl?: string; wrapTtl?: string }

export const factoryBatchCreateCommand: Command = {
  command: 'create',
  describe: 'mint a flasher secret_id for N devices of the given fleets, bound to the factory ranges, response-wrapped (needs fleetvault-admin)',
  builder: (y) => y
    .option('name', { type: 'string', demandOption: true, describe: 'batch name (recorded in the secret_id metadata and the audit log)' })
    .option('count', { type: 'number', demandOption: true, describe: 'devices in the batch = logins = decrypts allowed' })
    .option('cidr', { type: 'string', array: true, demandOption: true, describe: 'factory source range(s); gates the login and every use of its token' })
    .option('fleet', { type: 'string', array: true, demandOption: true, describe: 'fleet(s) whose envelopes the batch may decrypt; Vault refuses any other (403)' })
    .option('ttl', { type: 'string', defaultDescription: '7d', describe: 'secret_id lifetime' })
    .option('wrap-ttl', { type: 'string', defaultDescription: '24h', describe: 'how long the wrapping token can be unwrapped' })
    .example('$0 factory batch create --name line3-2025w24 --count 500 --cidr 203.0.113.0/24 --fleet myorg/sensors --json > batch.json', 'carry batch.json to the factory (e.g. on a USB stick)')
    .epilogue('--json prints {name, roleId, wrappingToken, count, cidrs, fleets, expiresAt}. The batch gets its own AppRole role and a policy that lets it decrypt envelopes of its fleets only: writing them needs the fleetvault-admin policy.\nExit codes: 0 created · 1 bad flags, duplicate name, --cidr outside the factory ranges · 2 Vault refused'),
  handler: async (argv: Args) => {
    const { durationToSeconds, formatDuration } = await import('../../config.js');
    const { validateCidrs } = await import('../../provision/cidr.js');
    const { validateBatchName } = await import('../../provision/batch.js');
    const { validateFleetSlug } = await import('../../provision/envelope.js');
    validateBatchName(argv.name);
    const fleets = argv.fleet.flatMap((f) => f.split(',')).map((f) => validateFleetSlug(f.trim()));
    const cidrs = validateCidrs(argv.cidr);
    const ttlSeconds = durationToSeconds(argv.ttl ?? '7d', 'ttl');
    const wrapTtl = formatDuration(durationToSeconds(argv.wrapTtl ?? '24h', 'wrap-ttl'));
    const { config, client } = await vaultFrom(argv);
    const { createBatch } = await import('../../provision/batch.js');
    const b = await createBatch({
      client, mount: config.approleMount, role: config.approleRole, name: argv.name, count: argv.count, cidrs, fleets, ttlSeconds, wrapTtl,
      transitMount: config.transitMount, transitKey: config.transitKey, policyPrefix: config.policyPrefix,
    });
    const out = { name: b.name, roleId: b.roleId, wrappingToken: b.wrappingToken, count: b.count, cidrs: b.cidrs, fleets: b.fleets, expiresAt: b.expiresAt };
    render(argv, out, () => [
      `batch ${b.name}: ${b.count} decrypts of ${b.fleets.join(', ')} envelopes from ${b.cidrs.join(', ')} until ${b.expiresAt}`,
      `role id:        ${b.roleId}`,
      `wrapping token: ${b.wrappingToken}   (unwrap once before ${b.wrapExpiresAt}: fleetvault factory batch unwrap -)`,
    ].join('\n'));
  },
};
