import { render, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { certFile: string }

export const certInspectCommand: Command = {
  command: 'inspect <cert-file>',
  describe: 'show what an SSH certificate allows (offline)',
  builder: (y) => y
    .positional('cert-file', { type: 'string', demandOption: true, describe: 'an OpenSSH certificate (…-cert.pub)' })
    .example('$0 cert inspect ~/.ssh/id_ed25519-cert.pub', '')
    .example('$0 cert inspect k-cert.pub --json', '{type, keyId, serial, principals, validAfter, validBefore, …}'),
  handler: async (argv: Args) => {
    const { readInputFile } = await import('../../fs/atomic.js');
    const { parseCertificate, describeCertificate } = await import('../../ssh/certificate.js');
    const { escapeControl } = await import('../../errors.js');
    const info = describeCertificate(parseCertificate(readInputFile(argv.certFile, 'certificate', 64 * 1024), argv.certFile));
    render(argv, info, () => {
      const expired = Date.parse(info.validBefore) <= Date.now() ? ' (expired)' : '';
      return [
        `Type:         ${info.type} certificate`,
        `Key ID:       ${escapeControl(JSON.stringify(info.keyId))}`,
        `Serial:       ${info.serial}`,
        `Principals:   ${info.principals.map((p) => escapeControl(p)).join(', ') || '(none — valid for any user on OpenSSH < 10.3!)'}`,
        `Valid:        ${info.validAfter} → ${info.validBefore}${expired}`,
        `Extensions:   ${info.extensions.join(', ') || '(none)'}`,
        `Critical:     ${Object.entries(info.criticalOptions).map(([k, v]) => `${k}=${escapeControl(v)}`).join(', ') || '(none)'}`,
        `Signing CA:   ${info.signingKeyFingerprint}`,
        `Public key:   ${info.publicKeyFingerprint}`,
      ].join('\n');
    });
  },
};
