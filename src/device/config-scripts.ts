// The device-side halves of the config.json protocol, as POSIX sh scripts. Only the validated
// path, hex digests, a random token and numbers are interpolated; config.json itself arrives on
// stdin and leaves on stdout, never in an argument (device process lists are readable by anyone
// on the device, and ssh command lines end up in logs).
//
//   read     config.json on stdout (fatrw read when present); touches nothing
//   hold     arm a watchdog, stop the supervisor (which would write its cached copy back over our
//            edit), then print config.json: what we edit is what the stopped supervisor last wrote
//   write    under flock: upload from stdin, check it, back up, sync, re-check the current file's
//            hash right before the replace (a change since the hold is refused, never overwritten),
//            replace keeping the mode (fatrw write -m MODE, or chmod + rename), read back
//   release  end a hold without writing
// write and release end in an EXIT trap that removes temp files, starts the supervisor again and
// disarms the watchdog, on every path out of the script. When no trap can run (the script is
// SIGKILLed, or the connection drops between hold and write), the watchdog does the same after the
// lease: systemd-run where the device has it (a transient unit outlives the per-connection
// sshd@.service whose processes systemd kills when the connection ends), otherwise setsid (outlives
// the session where sshd has no cgroup of its own, e.g. the test device).
// Every step is checked explicitly: no `set -e`, no `a && b` whose failure vanishes.

const q = (p: string) => `'${p}'`; // paths are validated to [A-Za-z0-9_./-]: no quote can appear
const HEX = /^[0-9a-f]+$/;

function hex(...h: string[]): void {
  for (const x of h) if (!HEX.test(x)) throw new Error('internal: non-hex value in a remote script');
}

const CHECK_PATH = `if [ ! -e "$p" ]; then fail 89 "no config.json at $p"; fi
if [ -L "$p" ] || [ ! -f "$p" ]; then fail 94 "$p is not a regular file"; fi`;

const PRELUDE = (path: string, token: string) => `set -u
umask 077
p=${q(path)}
token='${token}'
new="$p.fleetvault.new"; bak="$p.fleetvault.bak"; lease="$p.fleetvault.lease"
set -f # a lease is split into words by an unquoted $(cat …): a glob in it stays a word
fail() { echo "fleetvault: $2" >&2; exit "$1"; }
locked=''
sum() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
lock() {
  locked=tried # the cleanup does not wait for a lock this script could not get
  if command -v flock >/dev/null 2>&1; then
    exec 9<"\${p%/*}/" || fail 98 "cannot open the directory of $p"
    flock -w 20 9 || fail 98 "another writer holds the lock on $p"
    locked=1
  fi
}`;

/** Undo a hold: temp files gone, supervisor started, lease and watchdog removed. */
const FINISH = `unit=''; wd=''; held=''
finish() {
  rc=$?
  trap '' HUP INT TERM PIPE
  # Under the lock (taken now when the script ended before it): a hold that took ours over — a
  # re-run on the same journal — must not see its lease removed or its supervisor started, nor a
  # writer its upload removed, by this cleanup.
  if [ -z "$locked" ] && command -v flock >/dev/null 2>&1 && (exec 9<"\${p%/*}/") 2>/dev/null; then
    exec 9<"\${p%/*}/"; flock -w 20 9 >/dev/null 2>&1
  fi
  rm -f "$new" "$bak.tmp"
  if [ -n "$held" ]; then
    set -- $(cat "$lease" 2>/dev/null) x
    if [ "$1" = "$token" ] || [ "$1" = x ]; then
      if [ -n "$unit" ] && ! systemctl start "$unit" </dev/null 9<&- >/dev/null 2>&1; then
        echo "fleetvault: $unit did not start again" >&2
        if [ "$rc" -eq 0 ]; then rc=93; fi
      fi
      rm -f "$lease"
    fi
    if [ "$wd" = systemd ]; then systemctl stop "fleetvault-lease-$token" </dev/null >/dev/null 2>&1; fi
    case "$wd" in ''|systemd) ;; *) kill -TERM -- "-$wd" 2>/dev/null ;; esac
  fi
  exec 9<&-
  exit "$rc"
}
trap finish EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE`;

/** In write/release: take over the hold the hold script left (fields: token unit watchdog expiry owner). */
const TAKE_HOLD = `set -- $(cat "$lease" 2>/dev/null) x x x x
[ "$1" = "$token" ] || fail 92 "the hold on $p expired or was taken (the supervisor was started again); re-run"
held=1
if [ "$2" != - ]; then unit=$2; fi
wd=$3`;

const WATCHDOG = [
  'set -f',
  'sleep "$FV_WAIT"',
  // Under the lock, as the scripts are: a hold taking this one over is never half done here.
  'if command -v flock >/dev/null 2>&1 && (exec 9<"${FV_P%/*}/") 2>/dev/null; then exec 9<"${FV_P%/*}/"; flock -w 20 9; fi',
  'set -- $(cat "$FV_LEASE" 2>/dev/null) x',
  'if [ "$1" = "$FV_TOKEN" ]; then',
  '  rm -f "$FV_P.fleetvault.new" "$FV_P.fleetvault.bak.tmp"',
  '  if command -v fatrw >/dev/null 2>&1; then fatrw read "$FV_P" >/dev/null 2>&1 9<&-; fi',
  '  if [ -n "$FV_UNIT" ]; then systemctl start "$FV_UNIT" 9<&-; fi',
  '  rm -f "$FV_LEASE"',
  'fi',
].join('\n');

/** Exit 89 when missing, 94 when not a regular file; else config.json on stdout (via fatrw when present). */
export function readScript(path: string): string {
  return [
    `p=${q(path)}`,
    'fail() { echo "fleetvault: $2" >&2; exit "$1"; }',
    CHECK_PATH,
    // A file fatrw wrote must be read with it: it commits or drops an interrupted write first.
    'if command -v fatrw >/dev/null 2>&1; then exec fatrw read "$p"; else exec cat "$p"; fi',
  ].join('\n');
}

/**
 * `owner`: who this hold is for (hex; the run's journal derives it per device). A lease left by a
 * hold of the same owner — a run that died between its hold and its write — is taken over; any
 * other live lease is refused with exit 88 and the seconds it has left on stderr.
 */
export function holdScript(o: { path: string; token: string; leaseSeconds: number; owner?: string }): string {
  hex(o.token);
  if (o.owner !== undefined) hex(o.owner);
  const lease = Math.max(1, Math.floor(o.leaseSeconds));
  return `${PRELUDE(o.path, o.token)}
owner='${o.owner ?? ''}'
${FINISH}
${CHECK_PATH}
lock
now=$(date +%s)
prev_unit=''
if [ -e "$lease" ]; then
  set -- $(cat "$lease" 2>/dev/null) x x x 0 x
  # Decimal, never octal (08 is no shell number), and no more digits than a date has.
  case "$4" in *[!0-9]*|''|????????????*) exp=0 ;; *) exp=\${4#"\${4%%[!0]*}"}; exp=\${exp:-0} ;; esac
  if [ -n "$owner" ] && [ "$5" = "$owner" ]; then
    # Our own run's hold, left when it died between hold and write: ours to take over. The
    # supervisor it stopped is ours to start again — from here on, even if this script is cut
    # before its own watchdog is armed (the old lease goes below: its watchdog will do nothing).
    case "$2" in balena-supervisor|resin-supervisor) prev_unit=$2; unit=$2; held=1 ;; esac
  elif [ "$now" -le $((exp + 30)) ]; then
    # Someone else's live hold (a hold whose watchdog should long have fired — the device
    # rebooted under it — is stale and dropped below).
    left=$((exp - now)); if [ "$left" -lt 1 ]; then left=1; fi
    fail 88 "held-for $left"
  fi
  rm -f "$lease"
fi
if command -v systemctl >/dev/null 2>&1; then
  for u in balena-supervisor resin-supervisor; do
    if systemctl is-active --quiet "$u" </dev/null >/dev/null 2>&1; then unit=$u; break; fi
  done
fi
if [ -z "$unit" ]; then unit=$prev_unit; fi
held=1
watchdog='${WATCHDOG}'
# Armed before anything can be left behind: temp files, a stopped supervisor.
if command -v systemd-run >/dev/null 2>&1 && systemd-run --quiet --collect --unit="fleetvault-lease-$token" \\
    --setenv=FV_P="$p" --setenv=FV_LEASE="$lease" --setenv=FV_TOKEN="$token" --setenv=FV_UNIT="$unit" --setenv=FV_WAIT=${lease} \\
    /bin/sh -c "$watchdog" </dev/null >/dev/null 2>&1 9<&-; then
  wd=systemd
elif command -v setsid >/dev/null 2>&1; then
  FV_P="$p" FV_LEASE="$lease" FV_TOKEN="$token" FV_UNIT="$unit" FV_WAIT=${lease} setsid sh -c "$watchdog" </dev/null >/dev/null 2>&1 9<&- &
  wd=$!
else
  fail 95 "neither systemd-run nor setsid on the device: cannot arm the watchdog"
fi
printf '%s %s %s %s %s\\n' "$token" "\${unit:--}" "$wd" "$((now + ${lease}))" "\${owner:--}" > "$lease" || fail 95 "cannot write the lease $lease"
if [ -n "$unit" ]; then
  systemctl stop "$unit" </dev/null >/dev/null 2>&1 9<&- || fail 95 "cannot stop $unit"
fi
if command -v fatrw >/dev/null 2>&1; then out=$(fatrw read "$p" 9<&-; r=$?; echo .; exit $r) || fail 94 "cannot read $p"
else out=$(cat "$p"; r=$?; echo .; exit $r) || fail 94 "cannot read $p"; fi
# Held: the supervisor stays stopped until write/release (or the watchdog) starts it.
trap - EXIT
printf '%s' "\${out%.}"
`;
}

export interface WriteScriptOptions {
  path: string;
  /** sha256 of what we send on stdin. */
  newSha: string;
  /** sha256 of the file as the hold read it: anything else on the device is someone else's change. */
  expectSha: string;
  backup: boolean;
  /** The hold's token. */
  token: string;
}

export function writeScript(o: WriteScriptOptions): string {
  hex(o.newSha, o.expectSha, o.token);
  return `${PRELUDE(o.path, o.token)}
want='${o.newSha}'; expect='${o.expectSha}'
${FINISH}
${TAKE_HOLD}
${CHECK_PATH}
mode=$(stat -c %a "$p") || fail 94 "cannot stat $p"
lock
[ "$(sum "$p")" = "$expect" ] || fail 91 "config.json changed since it was read; nothing overwritten"
cat > "$new" || fail 90 "upload failed"
[ "$(sum "$new")" = "$want" ] || fail 90 "upload corrupted"
if [ -n "${o.backup ? '1' : ''}" ]; then
  cat "$p" > "$bak.tmp" || fail 99 "cannot write $bak.tmp"
  chmod "$mode" "$bak.tmp" || fail 99 "cannot chmod $bak.tmp"
  sync || fail 99 "sync failed"
  mv -f "$bak.tmp" "$bak" || fail 99 "cannot rename $bak.tmp"
fi
sync || fail 96 "sync failed"
# The last look before the replace: the hold is still ours (a watchdog that fired meanwhile has
# started the supervisor again), and a change made during the upload or a slow sync is refused.
set -- $(cat "$lease" 2>/dev/null) x
[ "$1" = "$token" ] || fail 92 "the hold on $p expired during the write (the supervisor was started again); re-run"
[ "$(sum "$p")" = "$expect" ] || fail 91 "config.json changed during the write; nothing overwritten"
if command -v fatrw >/dev/null 2>&1; then
  # fatrw creates its file with -m MODE & ~umask (open(2)); under this script's umask 077 a 0640
  # config.json would come back 0600, so the umask is cleared for this one call.
  (umask 000 && exec fatrw write "$p" -m "$mode" < "$new" 9<&-) || fail 96 "fatrw write failed"
  got=$(fatrw read "$p" 9<&- | sha256sum | cut -d' ' -f1)
else
  chmod "$mode" "$new" || fail 96 "cannot chmod $new"
  mv -f "$new" "$p" || fail 96 "cannot rename $new"
  got=$(sum "$p")
fi
sync || fail 96 "sync failed"
[ "$got" = "$want" ] || fail 97 "read-back differs from what was sent"
exit 0
`;
}

/** End a hold without writing (nothing to change after all). */
export function releaseScript(o: { path: string; token: string }): string {
  hex(o.token);
  return `${PRELUDE(o.path, o.token)}
${FINISH}
${TAKE_HOLD}
exit 0
`;
}
