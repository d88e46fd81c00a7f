// The human view of `cert inspect` over the corpus certificates (made with the real ssh-keygen,
// see test/fixtures/bad/cases.json): INVALID said plainly, forever shown as forever, and names
// from the certificate never reaching the terminal raw (issue 11 items 11-13).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeCertificate, parseCertificate } from '../../../src/ssh/certificate.js';
import { formatCertificate, nameForTerminal, quoteForTerminal } from '../../../src/ssh/certificate-view.js';
import { BAD_DIR } from '../../support/bad-corpus.js';

const view = (file: string) => formatCertificate(describeCertificate(parseCertificate(readFileSync(join(BAD_DIR, 'certs', file), 'utf8'))));
// Anything a terminal acts on or hides: C0/C1 controls, DEL, zero-width, bidi, non-ASCII at all —
// apart from the view's own arrow and dash.
const UNSAFE = /[^\n\x20-\x7e→—]/;

describe('cert inspect human view', () => {
  it('says INVALID on the signature line of a certificate whose signature bytes were flipped', () => {
    const v = view('forged-cert.pub');
    expect(v).toMatch(/^Signature: +INVALID: the signature does not verify under the CA key the certificate names; do not trust this certificate$/m);
    expect(v).toMatch(/^Signing CA: +SHA256:\S+ \(named by the certificate, not proven\)$/m);
  });

  it('shows a genuine one as valid, with the algorithm', () => {
    expect(view('forever-cert.pub')).toMatch(/^Signature: +valid \(ssh-ed25519\)$/m);
  });

  it('shows always:forever as forever', () => {
    expect(view('forever-cert.pub')).toMatch(/^Valid: +forever \(never expires\)$/m);
  });

  it('escapes ESC/OSC in extension names, critical options, key id and principals', () => {
    const v = view('escape-names-cert.pub');
    expect(v).not.toMatch(UNSAFE);
    expect(v).toContain('Key ID:       "id\\u001b[2J"');
    expect(v).toContain('Principals:   root, "\\u001b]0;pwned\\u0007"');
    expect(v).toContain('Extensions:   "\\u001b]0;pwned\\u0007permit-pty"');
    expect(v).toContain('Critical:     "\\u001b[31mforce-command"="\\u001b[2J/bin/sh"');
  });

  it('shows look-alike principals for what they are', () => {
    const v = view('lookalike-principals-cert.pub');
    expect(v).not.toMatch(UNSAFE);
    expect(v).toMatch(/^Principals: +"r\\u043eot", "root\\u200b", "\\u202etoor"$/m);
  });

  it('quoting helpers: printable ASCII out, JSON string literals that round-trip', () => {
    for (const s of ['\u001b]0;x\u0007', 'r\u043eot', '\u202e', '😀', 'a"b\\c', '\u009b']) {
      const q = quoteForTerminal(s);
      expect(q).not.toMatch(UNSAFE);
      expect(JSON.parse(q)).toBe(s);
    }
    expect(nameForTerminal('permit-pty')).toBe('permit-pty');
    expect(nameForTerminal('a,b')).toBe('"a,b"');
    expect(nameForTerminal('')).toBe('""');
  });
});
