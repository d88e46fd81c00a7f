import { render, note, type GlobalArgs, type Command } from '../common.js';
import { devStopCommand } from './stop.js';

interface DevArgs extends GlobalArgs { port?: number; detach?: boolean; withDevice?: boolean }

export const devCommand: Command = {
  command: 'dev',
  describe: 'start a local OpenBao dev server bootstrapped with the fleetvault layout (the embedded default)',
  builder: (y) => y
    .option('port', { type: 'number', describe: 'listen port on 127.0.0.1 (default: a free port)' })
    .option('detach', { type: 'boolean', describe: 'leave it running in the background; stop with `fleetvault dev stop`' })
    .option('with-device', { type: 'boolean', describe: 'also start a simulated balenaOS device (sshd) trusting the CA, and check a login works' })
    .command(devStopCommand)
    .example('$0 dev --with-device', 'start OpenBao and a device; prints env and the ssh command')
    .example('$0 dev stop', 'stop a detached server'),
  handler: async (argv: DevArgs) => {
    const { startEmbedded } = await import('../../dev/embedded.js');
    const d = await startEmbedded({ port: argv.port, detach: argv.detach, withDevice: argv.withDevice });
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
        `# simulated device ${d.device.name} on ${d.device.host}:${d.device.port} (config.json ${d.device.configPath}); log in with:`,
        `#   ${d.device.sshCommand}`,
        ...(d.device.user !== 'root' ? [`# (not run as root: the device's sshd runs as ${d.device.user} and logs in only ${d.device.user}; the certificate is the same, principal root)`] : []),
      ] : []),
    ].join('\n'));
    if (argv.detach) {
      note('fleetvault: dev server detached; stop it with `fleetvault dev stop`');
      return;
    }
    note('fleetvault: dev server running; press Ctrl-C to stop');
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
      d.server.child.once('exit', done);
    });
    await d.stop();
    note('fleetvault: dev server stopped');
  },
};
