import { render, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { certFile: string; check?: boolean }

export const certInspectCommand: Command = {
  command: 'inspect <cert-file>',
  describe: 'show what an SSH certificate allows and whether its signature holds (offline)',
  builder: (y) => y
    .positional('cert-file', { type: 'string', demandOption: true, describe: 'an OpenSSH certificate (…-cert.pub)' })
    .option('check', { type: 'boolean', describe: 'exit 1 unless the signature is valid and the certificate is within its validity (FLEETVAULT_CHECK)' })
    .example('$0 cert inspect ~/.ssh/id_ed25519-cert.pub', '')
    .example('$0 cert inspect k-cert.pub --json', '{type, keyId, serial, principals, validAfter, validBefore, …, signatureValid, expired}')
    .example('$0 cert inspect k-cert.pub --check', 'exit 1 unless usable now (scripts)')
    .epilogue('The signature is checked against the CA key the certificate names: compare "Signing CA" with `fleetvault ca public-key`.\n'
      + 'Exit codes: 0 read, valid or not (see Signature; JSON signatureValid, expired) · 1 not a readable certificate, '
      + 'or with --check an INVALID signature, expired or not yet valid.'),
  handler: async (argv: Args) => {
    const { readInputFile } = await import('../../fs/atomic.js');
    const { parseCertificate, describeCertificate } = await import('../../ssh/certificate.js');
    const { formatCertificate } = await import('../../ssh/certificate-view.js');
    const { failedTo } = await import('../../errors.js');
    const cert = parseCertificate(readInputFile(argv.certFile, 'certificate', 64 * 1024), argv.certFile);
    let info;
    try { info = describeCertificate(cert); } catch (e) { throw failedTo(`read certificate ${argv.certFile}`, e); }
    render(argv, info, () => formatCertificate(info));
    if (argv.check) {
      const { UsageError } = await import('../../errors.js');
      const why = !info.signatureValid ? `its signature is INVALID (${info.signatureError ?? 'it does not verify'})`
        : info.expired ? `it expired at ${info.validBefore}` : info.notYetValid ? `it is not valid before ${info.validAfter}` : undefined;
      if (why) throw new UsageError(`certificate ${argv.certFile} fails the check: ${why}`, { hint: 'request a new one with `fleetvault cert sign`' });
    }
  },
};
