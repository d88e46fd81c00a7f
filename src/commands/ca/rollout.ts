import { fleetAccess, fleetOptions, fleetTargets, type FleetArgs } from './fleet-options.js';
import { render, vaultFrom, note, type GlobalArgs, type Command } from '../common.js';

interface Args extends FleetArgs {
  fleet?: string; devices?: string; configPath?: string; identity?: string; concurrency?: number; canary?: number;
  maxFailures?: number; dryRun?: boolean; journal?: string; strictHostKeyChecking?: 'yes' | 'accept-new';
  userKnownHostsFile?: string; principals?: string[]; removeCa?: string[]; verifyTimeout?: string; balenaUrl?: string; port?: number;
  verifyAlready?: boolean;
  allowForeignCa?: boolean;
  scoped?: boolean;
  unscope?: boolean;
}

export const caRolloutCommand: Command = {
  command: 'rollout',
  describe: 'put the CA line into config.json on every device of a fleet, safely and resumably',
  builder: (y) => fleetOptions(y)
    .option('canary', { type: 'number', describe: 'do this many devices first; stop if any fails', defaultDescription: '0' })
    .option('max-failures', { type: 'number', describe: 'abort once more than this % of devices failed', defaultDescription: '100' })
    .option('dry-run', { type: 'boolean', describe: 'show the change per device, write nothing' })
    .option('journal', { type: 'string', describe: 'journal file; a re-run skips devices it lists as done', defaultDescription: '~/.local/state/fleetvault/rollout-<ca>.jsonl' })
    .option('principals', { type: 'string', array: true, describe: 'principals of the CA line', defaultDescription: 'root' })
    .option('scoped', { type: 'boolean', describe: 'each device trusts the CA for its own principals device-<uuid>,fleet-<org>.<fleet>,break-glass (migrates principals="root" lines); needs a fleet grant' })
    .conflicts('scoped', 'principals')
    .option('unscope', { type: 'boolean', describe: 'replace a scoped line of this CA with the unscoped one (refused otherwise: root certificates would open those devices again)' })
    .conflicts('unscope', 'scoped')
    .option('remove-ca', { type: 'string', array: true, describe: 'also remove cert-authority lines with this fingerprint' })
    .option('verify-already', { type: 'boolean', describe: 'also log into devices that already have the line (--no-verify-already skips them)', defaultDescription: 'true' })
    .option('allow-foreign-ca', { type: 'boolean', describe: 'roll out even when Vault signs with an issuer fleetvault did not generate (an imported key)' })
    .option('verify-timeout', { type: 'string', describe: 'how long to retry the verification login', defaultDescription: '20s' })
    .example('$0 ca rollout --devices fleet.txt --identity ~/.ssh/id_ed25519 --canary 2 --max-failures 10', '')
    .example('$0 ca rollout --devices fleet.txt --dry-run', 'what would change where')
    .example('$0 ca rollout --fleet acme/sensors --identity ~/.ssh/id_ed25519 --scoped', 'scoped lines; principals="root" lines are removed once the scoped line is proven')
    .epilogue('Exit status: 0 when every device is changed or already done; 2 when any failed or was skipped; 1 for usage errors.'),
  handler: async (argv: Args) => {
    const { PassThroughExit } = await import('../../errors.js');
    const { durationToSeconds } = await import('../../config.js');
    const { validatePrincipals } = await import('../../ssh/principals.js');
    const { rolloutPaths } = await import('../../ca/targets.js');
    const principals = validatePrincipals(argv.principals ?? ['root']);
    (await import('../../ca/scoped.js')).refuseScopedPrincipals(principals, 'ca rollout');
    const devices = await fleetTargets(argv);
    if (argv.scoped) (await import('../../ca/scoped.js')).requireScopedTargets(devices, 'ca rollout');
    const { config, client } = await vaultFrom(argv);
    const { getCaPublicKey } = await import('../../ca/public-key.js');
    const { authorizedKeyLine } = await import('../../ca/authorized-key.js');
    const { rolloutCa } = await import('../../ca/rollout.js');
    const { progressBar } = await import('../progress.js');
    const ca = await getCaPublicKey({ client, mount: config.sshMount });
    // Publishing a CA whose key may be known outside Vault hands the fleet to whoever knows it.
    const { findIssuerDrift } = await import('../../vault/issuer-drift.js');
    const foreign = (await findIssuerDrift(client, config.sshMount)).find((d) => d.isDefault);
    if (foreign && !argv.allowForeignCa) {
      const { VaultError } = await import('../../errors.js');
      throw new VaultError(`refusing to roll out: ${foreign.message}`, { path: `${config.sshMount}/config/issuers`, hint: 'pass --allow-foreign-ca only if you made that issuer yourself' });
    }
    const paths = rolloutPaths({ caFingerprint: ca.fingerprint, journal: argv.journal, knownHosts: argv.userKnownHostsFile });
    const bar = progressBar('rollout');
    const report = await rolloutCa({
      client, mount: config.sshMount, role: config.sshRole, devices, caFingerprint: ca.fingerprint,
      edit: { add: argv.scoped ? undefined : authorizedKeyLine({ ...ca, principals }), removeFingerprints: argv.removeCa },
      scoped: argv.scoped ? { line: (p) => authorizedKeyLine({ ...ca, principals: p }) } : undefined, unscope: argv.unscope,
      access: await fleetAccess(argv, paths.knownHosts), verifyAlready: argv.verifyAlready,
      concurrency: argv.concurrency, canary: argv.canary, maxFailuresPercent: argv.maxFailures, dryRun: argv.dryRun,
      journalPath: paths.journal, verifyTimeoutMs: argv.verifyTimeout ? durationToSeconds(argv.verifyTimeout) * 1000 : undefined,
      onProgress: bar.update,
    });
    bar.done();
    const { renderRolloutReport } = await import('../../ca/report.js');
    render(argv, report, () => renderRolloutReport(report));
    if (report.aborted) note(`fleetvault: rollout aborted: ${report.aborted}`);
    if (report.failed > 0 || report.skipped > 0) throw new PassThroughExit(2);
  },
};
