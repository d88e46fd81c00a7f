// os-sshkeys on balenaOS: when config.json changes, copy its os.sshKeys entries verbatim into
// authorized_keys_local, which is the only file the device's sshd reads. It runs a little later
// than the change (a systemd path unit), so a device trusts a new key late, as a real one does.
// Polled with stat (no forks, no inotify limits for a fleet of hundreds in one process).
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';

export function sshKeysOf(text: string): string[] | undefined {
  try {
    const c = JSON.parse(text) as { os?: { sshKeys?: unknown } };
    const k = c.os?.sshKeys;
    return Array.isArray(k) ? k.filter((x): x is string => typeof x === 'string' && !/[\n\r\0]/.test(x)) : [];
  } catch {
    return undefined; // os-sshkeys fails on a broken file; the keys it applied last stay
  }
}

export interface OsSshKeys { stop(): void }

/** Applies the keys once now, then again `delayMs` after every change seen by a poll every `pollMs`. */
export function startOsSshKeys(o: { configPath: string; authorizedKeysFile: string; delayMs: number; pollMs: number }): OsSshKeys {
  let applied = '';
  const apply = () => {
    let text: string;
    try { text = readFileSync(o.configPath, 'utf8'); } catch { return; }
    const keys = sshKeysOf(text);
    if (!keys) return;
    const body = keys.map((k) => k + '\n').join('');
    if (body === applied) return;
    const tmp = `${o.authorizedKeysFile}.tmp`;
    writeFileSync(tmp, body, { mode: 0o600 });
    renameSync(tmp, o.authorizedKeysFile);
    applied = body;
  };
  apply();
  let lastStat = '';
  let pending: NodeJS.Timeout | undefined;
  const watcher = setInterval(() => {
    let s = '';
    try { const st = statSync(o.configPath); s = `${st.ino}:${st.size}:${st.mtimeMs}`; } catch { /* mid-rename */ }
    if (s === lastStat) return;
    lastStat = s;
    if (pending) clearTimeout(pending);
    pending = setTimeout(apply, o.delayMs);
  }, o.pollMs);
  return { stop: () => { clearInterval(watcher); if (pending) clearTimeout(pending); } };
}
