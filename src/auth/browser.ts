// Opening the user's browser for the OIDC flow, best effort: the URL is always printed too, so a
// headless box, an SSH session or a missing xdg-open only costs a copy and paste.
import { spawn } from 'node:child_process';

/** The opener for this platform, or undefined where we do not know one. */
export function browserCommand(platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform === 'darwin') return 'open';
  if (platform === 'linux' || platform === 'freebsd' || platform === 'openbsd') return 'xdg-open';
  return undefined;
}

/**
 * Launch the browser detached and forget it. The auth URL in argv holds only the state and nonce
 * (single-use, bound to our callback), never a token — the same trade `vault login` makes.
 */
export function openBrowser(url: string): boolean {
  const cmd = browserCommand();
  if (!cmd) return false;
  try {
    const child = spawn(cmd, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => { /* no opener installed: the printed URL is the fallback */ });
    child.unref();
    return true;
  } catch {
    return false;
  }
}
