// Why a login failed, told from evidence only: ssh's own stderr, and — when fleetvault runs the
// device itself (`fleetvault dev --with-device`) — the lines the device's sshd logged for this
// attempt. A refusal sshd explains nowhere we can read is reported as exactly that, with where
// the explanation is, never as a guess about CAs or clocks.

export interface LoginEvidence {
  /** ssh's exit status; only 255 (ssh itself failed) is diagnosed. */
  exitCode: number;
  /** ssh's stderr (its tail is enough). */
  sshStderr: string;
  host: string;
  port: number;
  user: string;
  /** The certificate's principal when it is not the login name (a scoped certificate). */
  principal?: string;
  /** What the device's sshd logged during this attempt, and where that log is. */
  deviceLog?: { text: string; path: string };
  /** The certificate's validity window, to quote next to a device's time complaint. */
  validAfter?: string;
  validBefore?: string;
  /** The one account the device logs in, when fleetvault runs it unprivileged. */
  deviceLoginUser?: string;
}

/** The one-line diagnosis, or undefined when ssh did not fail (or failed for a reason it printed plainly). */
export function diagnoseLogin(e: LoginEvidence): string | undefined {
  if (e.exitCode !== 255) return undefined;
  const err = e.sshStderr;
  const at = `${e.host}:${e.port}`;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(err)) {
    return `the host key of ${at} differs from the one in your known_hosts (ssh: "REMOTE HOST IDENTIFICATION HAS CHANGED"); if the device was reflashed, remove its old entry (ssh-keygen -R "[${e.host}]:${e.port}"), otherwise do not connect`;
  }
  if (/Host key verification failed/.test(err)) {
    return `${at} is not in your known_hosts (ssh: "Host key verification failed"); check its host key and add it, or use --strict-host-key-checking accept-new for a first connection`;
  }
  const net = /(Connection refused|Connection timed out|No route to host|Could not resolve hostname[^\n]*|Network is unreachable|Connection closed by [^\n]*|kex_exchange_identification: [^\n]*)/.exec(err);
  if (net && !/Permission denied/.test(err)) {
    return `cannot reach the SSH server at ${at} (ssh: "${net[1]!.trim()}"); check the address, the port (balenaOS: 22222) and that the device is up`;
  }
  const denied = /Permission denied \([^)]*\)/.exec(err);
  if (!denied) return undefined;
  if (e.deviceLog) {
    const fromLog = explainFromSshdLog(e, e.deviceLog.text);
    if (fromLog) return `${fromLog} (device log ${e.deviceLog.path})`;
    return `the device at ${at} refused the certificate for ${e.principal ?? e.user} (ssh: "${denied[0]}") and its sshd log ${e.deviceLog.path} gives no reason`;
  }
  return `the device at ${at} refused the certificate for ${e.principal ?? e.user} (ssh: "${denied[0]}"); its sshd log says why (on balenaOS: journalctl -u sshd); \`fleetvault ca status\` shows whether it trusts this CA`;
}

/** sshd's own words (OpenSSH 8.9–10.x, LogLevel VERBOSE) for the refusals we can name. */
function explainFromSshdLog(e: LoginEvidence, log: string): string | undefined {
  const quote = (m: RegExpExecArray) => `sshd: "${m[0].trim()}"`;
  let m: RegExpExecArray | null;
  if ((m = /Unsafe AuthorizedKeysCommand "[^"]*": ([^\n]*)/.exec(log))) {
    return `the device's sshd refuses to run its AuthorizedKeysCommand, so it reads no CA line (${quote(m)})`;
  }
  if ((m = /AuthorizedKeysCommand [^\n]* failed, status \d+/.exec(log))) {
    return `the device's AuthorizedKeysCommand failed, so it read no CA line (${quote(m)})`;
  }
  if ((m = /Certificate invalid: not yet valid/.exec(log))) {
    return `the device's clock is behind: it says the certificate is not yet valid (${quote(m)}; valid from ${e.validAfter ?? 'its start'}); fix the device's time (NTP)`;
  }
  if ((m = /Certificate invalid: expired/.exec(log))) {
    return `the device says the certificate has expired (${quote(m)}; valid until ${e.validBefore ?? 'its end'}): its clock is ahead, or the certificate is old; check the device's time, then sign a new one`;
  }
  if ((m = /Certificate does not contain an authorized principal|Certificate invalid: name is not a listed principal/.exec(log))) {
    return `the device accepts this CA only for other principals (${quote(m)}); ask for a principal its CA line lists`;
  }
  if ((m = /User \S+ not allowed because [^\n]*|Invalid user \S+/.exec(log))) {
    const only = e.deviceLoginUser && e.deviceLoginUser !== e.user ? `; it runs unprivileged and logs in only ${e.deviceLoginUser}: add -o User=${e.deviceLoginUser}` : '';
    return `the device has no usable account ${e.user} (${quote(m)})${only}`;
  }
  if ((m = /Failed publickey for \S+ from \S+ port \d+ ssh2: \S+-CERT \S+ ID [^\n]*? CA \S+ (SHA256:\S+)/.exec(log))) {
    return `the device does not trust the CA that signed the certificate: no cert-authority line for ${m[1]} in its config.json os.sshKeys (sshd logged the refusal with no other reason); add \`fleetvault ca authorized-key\` or run \`fleetvault ca rollout\``;
  }
  return undefined;
}
