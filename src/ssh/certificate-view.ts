// The human view of `cert inspect`. Everything in a certificate except the numbers comes from
// whoever made it: key ids, principals, extension and critical-option names can carry terminal
// escapes (ESC ] 0; … retitles the window, ESC [ 2J clears it), bidi overrides, zero-width
// characters and look-alike letters ("r\u043eot" is not root). All of it is shown as printable
// ASCII; the JSON view keeps the exact values for machines.
import { FOREVER, type CertificateInfo } from './certificate.js';

/** A JSON string literal made of printable ASCII only (non-ASCII as \uXXXX). */
export function quoteForTerminal(s: string): string {
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Plain names stay plain; anything else (quotes, commas, spaces, non-ASCII) is quoted and escaped. */
export function nameForTerminal(s: string): string {
  return /^[\x21-\x7e]+$/.test(s) && !/["\\,=]/.test(s) ? s : quoteForTerminal(s);
}

function validity(info: CertificateInfo): string {
  const after = Date.parse(info.validAfter) === 0 ? 'always' : info.validAfter;
  const span = after === 'always' && info.validBefore === FOREVER ? 'forever' : `${after} → ${info.validBefore}`;
  const state = info.expired ? 'EXPIRED' : info.notYetValid ? 'NOT YET VALID' : info.validBefore === FOREVER ? 'never expires' : '';
  return state ? `${span} (${state})` : span;
}

export function formatCertificate(info: CertificateInfo): string {
  // sshd's default CASignatureAlgorithms dropped ssh-rsa (SHA-1) in OpenSSH 8.2: every balenaOS
  // device (8.9 and later) refuses such a certificate even though the signature holds.
  const sha1 = info.signatureAlgorithm === 'ssh-rsa' ? ', SHA-1: devices with OpenSSH ≥ 8.2 refuse it' : '';
  const signature = info.signatureValid
    ? `valid (${info.signatureAlgorithm}${sha1})`
    : `INVALID: ${info.signatureError ?? 'it does not verify'}; do not trust this certificate`;
  const critical = Object.entries(info.criticalOptions).map(([k, v]) => `${nameForTerminal(k)}=${quoteForTerminal(v)}`);
  return [
    `Type:         ${info.type} certificate`,
    `Signature:    ${signature}`,
    `Key ID:       ${quoteForTerminal(info.keyId)}`,
    `Serial:       ${info.serial}`,
    `Principals:   ${info.principals.map(nameForTerminal).join(', ') || '(none — valid for any user on OpenSSH < 10.3!)'}`,
    `Valid:        ${validity(info)}`,
    `Extensions:   ${info.extensions.map(nameForTerminal).join(', ') || '(none)'}`,
    `Critical:     ${critical.join(', ') || '(none)'}`,
    `Signing CA:   ${info.signingKeyFingerprint}${info.signatureValid ? '' : ' (named by the certificate, not proven)'}`,
    `Public key:   ${info.publicKeyFingerprint}`,
  ].join('\n');
}
