//! The shell scripts behind a wrapped command: the wrapper (`SCRIPT`),
//! which reads the header, decodes framed stdin and records the command's
//! pid under a kill token, and the killer (`KILL_SCRIPT`), which ends the
//! command's process tree by that token.

/// `$0` of the wrapper script, shown in process lists.
pub const WRAPPER_NAME: &str = "leasebox-exec";

/// Prefix of the wrapper's own shell variables; env names may not use it.
pub const RESERVED_PREFIX: &str = "__leasebox_";

/// The wrapper: read a warm lease's handed-over Secret (the `export` lines
/// of `manifests::pool_pod::LEASE_ENV_FILE`, present only in a pod claimed
/// from a pool), then the header, export, `cd`, record its pid under the
/// kill token (`$3`, empty: none), then run the command with its stdin
/// decoded from frames (`$2` = `framed`) or from `/dev/null`. `$1` is the
/// working directory (empty: stay), the rest the argv.
pub const SCRIPT: &str = r#"[ -r /run/leasebox/lease.env ] && . /run/leasebox/lease.env
while IFS= read -r __leasebox_line; do
  [ -z "$__leasebox_line" ] && break
  __leasebox_value=$(printf '%bx' "${__leasebox_line#*=}")
  export "${__leasebox_line%%=*}=${__leasebox_value%x}"
done
unset __leasebox_line __leasebox_value
if [ -n "$1" ]; then
  cd -- "$1" || { echo "leasebox-exec: cannot change to directory $1" >&2; exit 126; }
fi
__leasebox_stdin=$2
__leasebox_pidfile=
if [ -n "$3" ]; then
  __leasebox_pidfile=/tmp/.leasebox-exec.$3.pid
  echo $$ >"$__leasebox_pidfile" 2>/dev/null || __leasebox_pidfile=
fi
shift 3
if [ "$__leasebox_stdin" != framed ]; then
  unset __leasebox_stdin
  if [ -z "$__leasebox_pidfile" ]; then
    exec "$@" </dev/null
  fi
  "$@" </dev/null
  __leasebox_rc=$?
  rm -f "$__leasebox_pidfile"
  exit "$__leasebox_rc"
fi
__leasebox_fifo=/tmp/.leasebox-stdin.$$
rm -f "$__leasebox_fifo"
mkfifo -m 600 "$__leasebox_fifo" || { echo "leasebox-exec: cannot create the stdin pipe $__leasebox_fifo (is /tmp writable?)" >&2; exit 126; }
exec 3<&0
(
  while IFS= read -r __leasebox_n; do
    [ "$__leasebox_n" = 0 ] && break
    __leasebox_blocks=$((__leasebox_n / 65536))
    __leasebox_rest=$((__leasebox_n % 65536))
    if [ "$__leasebox_blocks" -gt 0 ]; then
      dd bs=65536 count="$__leasebox_blocks" iflag=fullblock 2>/dev/null || break
    fi
    if [ "$__leasebox_rest" -gt 0 ]; then
      dd bs="$__leasebox_rest" count=1 iflag=fullblock 2>/dev/null || break
    fi
  done
) <&3 >"$__leasebox_fifo" &
__leasebox_feeder=$!
unset __leasebox_stdin
"$@" <"$__leasebox_fifo" 3<&-
__leasebox_rc=$?
kill "$__leasebox_feeder" 2>/dev/null
rm -f "$__leasebox_fifo" ${__leasebox_pidfile:+"$__leasebox_pidfile"}
exit "$__leasebox_rc"
"#;

/// Argument telling [`SCRIPT`] to decode framed stdin. (The feeder gets the
/// stdin through fd 3: a background list of a non-interactive shell reads
/// `/dev/null` unless redirected explicitly.)
pub const STDIN_FRAMED: &str = "framed";
/// Argument telling [`SCRIPT`] to give the command `/dev/null`.
pub const STDIN_NONE: &str = "none";

/// Kills the process tree of a wrapped command by its kill token (`$1`):
/// the wrapper's pid from its pid file, then every descendant found
/// through the parent pids in `/proc/<pid>/stat`, gathered first and
/// killed together with SIGKILL. Exits 0 when nothing is left to kill.
pub const KILL_SCRIPT: &str = r#"__f=/tmp/.leasebox-exec.$1.pid
[ -r "$__f" ] || exit 0
read -r __root <"$__f" || exit 0
__all=
__todo=$__root
while [ -n "$__todo" ]; do
  __all="$__all $__todo"
  __next=
  for __d in /proc/[0-9]*; do
    __c=${__d#/proc/}
    read -r __l <"$__d/stat" 2>/dev/null || continue
    __l=${__l##*\) }
    set -- $__l
    for __q in $__todo; do
      [ "$2" = "$__q" ] && __next="$__next $__c"
    done
  done
  __todo=$__next
done
kill -KILL $__all 2>/dev/null
rm -f "$__f"
exit 0
"#;

/// `$0` of the kill script.
pub const KILLER_NAME: &str = "leasebox-kill";

/// The argv that kills the command started with `token` (see
/// [`KILL_SCRIPT`]).
pub fn kill_argv(token: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        KILL_SCRIPT.into(),
        KILLER_NAME.into(),
        token.into(),
    ]
}

/// True for a kill token: 1-64 of `[A-Za-z0-9-]` (it becomes a file name).
pub fn is_kill_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}
