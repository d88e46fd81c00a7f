import { render, note, type GlobalArgs, type Command } from '../common.js';
import { devStopCommand } from './stop.js';

interface DevArgs extends GlobalArgs { port?: number; detach?: boolean; withDevice?: boolean; deviceKind?: 'balenaos' | 'plain'; supervisorInterval?: number }

export const devCommand: Command = {
  command: 'dev',
  describe: 'start a local OpenBao dev server bootstrapped with the fleetvault layout (the embedded default)',
  builder: (y) => y
    .option('port', { type: 'number', describe: 'listen port on 127.0.0.1 (default: a free port)' })
    .option('detach', { type: 'boolean', describe: 'leave it running in the background; stop with `fleetvault dev stop`' })
    .option('with-device', { type: 'boolean', describe: 'also start a simulated balenaOS device trusting the CA, and check a login works' })
    .option('device-kind', { choices: ['balenaos', 'plain'] as const, describe: 'balenaos: supervisor writing config.json back, systemctl, fatrw, os-sshkeys, any login name → root; plain: one sshd reading os.sshKeys', defaultDescription: 'balenaos' })
    .option('supervisor-interval', { type: 'number', describe: 'seconds between the balenaos device\'s supervisor write-backs of config.json (0: never)', defaultDescription: '5' })
    .command(devStopCommand)
    .example('$0 dev --with-device', 'start OpenBao and a device; prints env and the ssh command')
    .example('$0 dev --detach --with-device --device-kind plain', 'the plain device: sshd only')
    .example('$0 dev stop', 'stop a detached server'),
  handler: async (argv: DevArgs) => {
    const { startEmbedded } = await import('../../dev/embedded.js');
    if (argv.supervisorInterval !== undefined && !(Number.isInteger(argv.supervisorInterval) && argv.supervisorInterval >= 0)) {
      const { UsageError } = await import('../../errors.js');
      throw new UsageError(`--supervisor-interval must be a whole number of seconds ≥ 0, not ${argv.supervisorInterval}`);
    }
    // Flags for a device that would not start, or that has no supervisor: refused, not ignored.
    const deviceFlag = argv.deviceKind !== undefined ? '--device-kind' : argv.supervisorInterval !== undefined ? '--supervisor-interval' : undefined;
    if (deviceFlag && !argv.withDevice) {
      const { UsageError } = await import('../../errors.js');
      throw new UsageError(`${deviceFlag} is for the simulated device: add --with-device`);
    }
    if (argv.supervisorInterval !== undefined && argv.deviceKind === 'plain') {
      const { UsageError } = await import('../../errors.js');
      throw new UsageError('--supervisor-interval is for the balenaos device: the plain device has no supervisor', { hint: 'drop it, or use --device-kind balenaos' });
    }
    // Caught from before the start until everything stopped (not once): a signal in any gap would
    // otherwise kill dev with its default action — right after "press Ctrl-C" is printed, a second
    // Ctrl-C halfway through stopping — and leave OpenBao and the device running. SIGHUP (the
    // terminal closed): OpenBao takes it as "reload" and the device is in a session of its own.
    // While starting, startEmbedded's own handlers stop what started and exit.
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    let done = () => {};
    const stopping = new Promise<void>((resolve) => { done = resolve; });
    for (const s of signals) process.on(s, done);
    const release = () => { for (const s of signals) process.off(s, done); };
    let d: Awaited<ReturnType<typeof startEmbedded>>;
    try {
      d = await startEmbedded({
      port: argv.port, detach: argv.detach, withDevice: argv.withDevice, device: argv.deviceKind, supervisorIntervalSeconds: argv.supervisorInterval,
      exitOnSignal: true,
      });
    } catch (e) {
      release();
      throw e;
    }
    const data = {
      address: d.address, version: d.version, auditLog: d.auditLog, caLine: d.caLine, caFingerprint: d.caFingerprint,
      env: { VAULT_ADDR: d.address, VAULT_TOKEN: d.rootToken }, device: d.device,
    };
    render(argv, data, () => [
      `# ${d.server.flavour === 'vault' ? 'Vault' : 'OpenBao'} ${d.version} dev server at ${d.address} (in-memory; audit log ${d.auditLog})`,
      `export VAULT_ADDR=${d.address}`,
      `export VAULT_TOKEN=${d.rootToken}`,
      `# devices trust this CA through config.json os.sshKeys:`,
      `# ${d.caLine}`,
      ...(d.device ? [
        d.device.kind === 'balenaos'
          ? `# simulated balenaOS device ${d.device.name} on ${d.device.host}:${d.device.port} (config.json ${d.device.configPath}, kept and written back by its balena-supervisor; systemctl, fatrw on its PATH); log in with:`
          : `# simulated device ${d.device.name} on ${d.device.host}:${d.device.port} (config.json ${d.device.configPath}); log in with:`,
        `#   ${d.device.sshCommand}`,
        ...(d.device.user !== 'root' ? [`# (not run as root: the device's sshd runs as ${d.device.user} and logs in only ${d.device.user}; the certificate is the same, principal root)`]
          : d.device.kind === 'balenaos' && !d.device.anyUser ? [`# (${d.device.anyUserMissing}: the device logs in only root, not any login name as balenaOS does)`] : []),
      ] : []),
    ].join('\n'));
    if (argv.detach) {
      release();
      note('fleetvault: dev server detached; stop it with `fleetvault dev stop`');
      return;
    }
    note('fleetvault: dev server running; press Ctrl-C to stop');
    d.server.child.once('exit', done);
    await stopping;
    try {
      await d.stop();
    } finally {
      release();
    }
    note('fleetvault: dev server stopped');
  },
};
