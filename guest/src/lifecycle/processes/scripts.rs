//! The in-pod scripts of detached processes, and the layout they share.
//!
//! Each process lives in `PROCESS_ROOT/<id>/` (under the tmp volume,
//! private to the sandbox's user: umask 077):
//!
//! | file | what |
//! |---|---|
//! | `argv` | the argv as started, one line of JSON written by the module |
//! | `started-at` | RFC 3339 start time, by the pod's clock |
//! | `supervisor` | pid of the supervising shell |
//! | `pid` | pid of the command, which leads its own session and group |
//! | `stdout`, `stderr` | the kept output, at most the cap per stream |
//! | `stdout.dropped`, `stderr.dropped` | present once output past the cap was dropped |
//! | `status` | the exit code (128+N for signal N), written when the command ended and its output was kept |
//! | `timed-out` | present when the supervisor's deadline killed the command |
//!
//! The supervisor (`SUPERVISOR_SCRIPT`) is started with `setsid` by the
//! start script and outlives the exec that started it; it starts the
//! command with `setsid` too (its own session and process group, so that
//! signals for the command's tree never reach the supervisor), copies each
//! output stream into its file through a FIFO up to the cap (then drains
//! and drops the rest, so the command never blocks nor dies of the cap),
//! waits for the command itself (PID 1 of the pod may be `sleep`, which
//! reaps nothing) and records its status. A process "runs" while it has
//! no `status` and its supervisor is alive.

/// The directory of every detached process of a pod.
pub(crate) const PROCESS_ROOT: &str = "/tmp/.leasebox/proc";

/// Exit code: no process of that id in the pod.
pub(crate) const EXIT_UNKNOWN_PROCESS: i32 = 85;
/// Exit code: the image has no `setsid`.
pub(crate) const EXIT_NO_SETSID: i32 = 87;
/// Exit code: the image has no `stat`.
pub(crate) const EXIT_NO_STAT: i32 = 88;

/// Shell functions every process script shares: `alive DIR` (its
/// supervisor runs), `info DIR` (the record the guest parses: `key value`
/// lines ended by `end`), `killtree SIG PID` (the signal to the process
/// group of PID and to every descendant found through `/proc/*/stat`
/// parent links, since a child may have left the group; the whole tree is
/// gathered before anything is killed, else an orphan would be handed to
/// the pod's first process and lost) and `nap` (a tenth of a second where
/// `sleep` takes fractions, else a second).
pub(crate) const FUNCTIONS: &str = r#"alive() {
  __s=$(cat "$1/supervisor" 2>/dev/null) || return 1
  [ -n "$__s" ] && [ -r "/proc/$__s/cmdline" ] || return 1
  case "$(tr '\0' ' ' <"/proc/$__s/cmdline" 2>/dev/null)" in
    *"leasebox-proc $1 "*) return 0 ;;
  esac
  return 1
}
info() {
  printf 'id %s\n' "${1##*/}"
  printf 'argv %s\n' "$(cat "$1/argv" 2>/dev/null)"
  printf 'started %s\n' "$(cat "$1/started-at" 2>/dev/null)"
  [ -e "$1/status" ] && printf 'status %s\n' "$(cat "$1/status" 2>/dev/null)"
  alive "$1" && echo 'alive 1'
  printf 'out %s\n' "$(stat -c %s "$1/stdout" 2>/dev/null)"
  printf 'err %s\n' "$(stat -c %s "$1/stderr" 2>/dev/null)"
  [ -e "$1/stdout.dropped" ] && echo 'outdrop 1'
  [ -e "$1/stderr.dropped" ] && echo 'errdrop 1'
  [ -e "$1/timed-out" ] && echo 'timedout 1'
  echo end
}
killtree() {
  __sig_of_tree=$1
  __root_of_tree=$2
  __all=
  __todo=$2
  while [ -n "$__todo" ]; do
    __all="$__all $__todo"
    __next=
    for __p in /proc/[0-9]*; do
      { read -r __l <"$__p/stat"; } 2>/dev/null || continue
      __l=${__l##*\) }
      set -- $__l
      for __q in $__todo; do
        [ "$2" = "$__q" ] && __next="$__next ${__p#/proc/}"
      done
    done
    __todo=$__next
  done
  kill -"$__sig_of_tree" -"$__root_of_tree" $__all 2>/dev/null
}
nap() { sleep 0.1 2>/dev/null || sleep 1; }
"#;

/// The supervisor: `$1` the process directory, `$2` the timeout in
/// seconds (0: none), `$3` and `$4` the caps of stdout and stderr in
/// bytes, `$5` the grace period in seconds, `$6` the umask the command
/// runs with, then the command. Started by [`START_SCRIPT`] with its
/// stdio on `/dev/null`.
pub(crate) const SUPERVISOR_SCRIPT: &str = r#"__d=$1; __t=$2; __capo=$3; __cape=$4; __grace=$5; __um=$6; shift 6
echo $$ >"$__d/supervisor"
trap ':' TERM INT
keep() {
  __f=$__d/$1; __left=$2; __size=0
  while [ "$__left" -gt 0 ]; do
    __b=65536; [ "$__left" -lt "$__b" ] && __b=$__left
    dd bs="$__b" count=1 2>/dev/null >>"$__f"
    __now=$(stat -c %s "$__f") || break
    if [ "$__now" -eq "$__size" ]; then : >"$__f.done"; exit 0; fi
    __left=$((__left - (__now - __size))); __size=$__now
  done
  if [ "$(dd bs=1 count=1 2>/dev/null | wc -c)" -gt 0 ]; then : >"$__f.dropped"; fi
  cat >/dev/null
  : >"$__f.done"
}
rm -f "$__d/stdout.fifo" "$__d/stderr.fifo"
mkfifo "$__d/stdout.fifo" "$__d/stderr.fifo" || exit 1
keep stdout "$__capo" <"$__d/stdout.fifo" &
keep stderr "$__cape" <"$__d/stderr.fifo" &
umask "$__um"
setsid "$@" <"/dev/null" >"$__d/stdout.fifo" 2>"$__d/stderr.fifo" &
__c=$!
echo "$__c" >"$__d/pid"
__timer=
if [ "$__t" -gt 0 ]; then
  (
    trap - TERM INT
    sleep "$__t" &
    __s=$!
    trap 'kill $__s 2>/dev/null; exit 0' TERM
    wait "$__s"
    : >"$__d/timed-out"
    killtree 15 "$__c"
    sleep "$__grace"
    killtree 9 "$__c"
  ) &
  __timer=$!
fi
while :; do
  wait "$__c"
  __rc=$?
  kill -0 "$__c" 2>/dev/null || break
done
[ -n "$__timer" ] && kill "$__timer" 2>/dev/null
__i=0
while [ "$__i" -lt 50 ] && { [ ! -e "$__d/stdout.done" ] || [ ! -e "$__d/stderr.done" ]; }; do
  nap; __i=$((__i + 1))
done
echo "$__rc" >"$__d/status.tmp" && mv -f "$__d/status.tmp" "$__d/status"
rm -f "$__d/stdout.fifo" "$__d/stderr.fifo" "$__d/stdout.done" "$__d/stderr.done"
"#;

/// The start: `$1` the root, `$2` the id, `$3` the timeout in seconds,
/// `$4`/`$5` the caps, `$6` the grace period, `$7` the argv as JSON, `$8`
/// the supervisor's text, then the command. Runs under the exec wrapper,
/// which has exported the env and changed to the cwd, so the supervisor
/// and the command inherit both; prints the process's record once the
/// command has started.
pub(crate) const START_SCRIPT: &str = r#"command -v setsid >/dev/null 2>&1 || exit 87
command -v stat >/dev/null 2>&1 || exit 88
__um=$(umask)
umask 077
__d=$1/$2
mkdir -p "$1" && mkdir "$__d" || exit 1
printf '%s\n' "$7" >"$__d/argv"
date -u +%Y-%m-%dT%H:%M:%SZ >"$__d/started-at"
: >"$__d/stdout"; : >"$__d/stderr"
__t=$3; __capo=$4; __cape=$5; __grace=$6; __sup=$8
shift 8
setsid sh -c "$__sup" leasebox-proc "$__d" "$__t" "$__capo" "$__cape" "$__grace" "$__um" "$@" </dev/null >/dev/null 2>&1 &
__i=0
while [ ! -s "$__d/pid" ] && [ "$__i" -lt 100 ]; do nap; __i=$((__i + 1)); done
info "$__d"
"#;

/// The list: `$1` the root; one record per process.
pub(crate) const LIST_SCRIPT: &str = r#"for __d in "$1"/p-*; do
  [ -f "$__d/argv" ] && info "$__d"
done
exit 0
"#;

/// The status of one: `$1` the root, `$2` the id.
pub(crate) const INFO_SCRIPT: &str = r#"[ -d "$1/$2" ] || exit 85
info "$1/$2"
"#;

/// The kill: `$1` the root, `$2` the id, `$3` the signal, `$4` the grace
/// period in seconds, `$5` 1 to remove the process's directory afterwards
/// (a start rolled back). A process that has ended is left alone. Else
/// the signal goes to its tree; once its status is recorded or the grace
/// period is over, SIGKILL goes to what is left of its group and tree.
pub(crate) const KILL_SCRIPT: &str = r#"__d=$1/$2; __sig=$3; __grace=$4; __forget=$5
[ -d "$__d" ] || exit 85
if [ ! -e "$__d/status" ] && __c=$(cat "$__d/pid" 2>/dev/null) && [ -n "$__c" ]; then
  killtree "$__sig" "$__c"
  __i=0
  while [ "$__i" -lt $((__grace * 10)) ] && [ ! -e "$__d/status" ] && alive "$__d"; do
    nap; __i=$((__i + 1))
  done
  killtree 9 "$__c"
  __i=0
  while [ "$__i" -lt 80 ] && [ ! -e "$__d/status" ] && alive "$__d"; do
    nap; __i=$((__i + 1))
  done
fi
if [ "$__forget" = 1 ]; then rm -rf "$__d"; exit 0; fi
info "$__d"
"#;

/// The attach: `$1` the root, `$2` the id, `$3`/`$4` the stdout and
/// stderr offsets, `$5` 1 to follow. Sends the kept bytes of each stream
/// from its offset (stdout to stdout, stderr to stderr), exactly the bytes
/// up to the size read just before (`dd` seeks to the block, `tail` and
/// `head` cut the rest), and with `$5` loops until the process has ended
/// (status recorded, or its supervisor gone) *before* the sizes were read:
/// those are then the final sizes, so the last round sends everything,
/// nothing twice. It only reads, so any number may run at once.
pub(crate) const ATTACH_SCRIPT: &str = r#"__d=$1/$2; __o=$3; __e=$4; __f=$5
[ -d "$__d" ] || exit 85
send() {
  [ "$2" -gt "$3" ] || return 0
  dd if="$1" bs=4096 skip=$(($3 / 4096)) 2>/dev/null | tail -c +$(($3 % 4096 + 1)) | head -c $(($2 - $3))
}
while :; do
  __ended=0
  if [ -e "$__d/status" ] || ! alive "$__d"; then __ended=1; fi
  __so=$(stat -c %s "$__d/stdout" 2>/dev/null) || __so=0
  __se=$(stat -c %s "$__d/stderr" 2>/dev/null) || __se=0
  send "$__d/stdout" "$__so" "$__o"
  [ "$__so" -gt "$__o" ] && __o=$__so
  send "$__d/stderr" "$__se" "$__e" >&2
  [ "$__se" -gt "$__e" ] && __e=$__se
  [ "$__f" = 1 ] && [ "$__ended" = 0 ] || break
  nap; nap
done
exit 0
"#;

/// `$0` of each script, as process lists show it.
pub(crate) const START_NAME: &str = "leasebox-start-process";
/// See [`START_NAME`].
pub(crate) const LIST_NAME: &str = "leasebox-list-processes";
/// See [`START_NAME`].
pub(crate) const INFO_NAME: &str = "leasebox-process-info";
/// See [`START_NAME`].
pub(crate) const KILL_NAME: &str = "leasebox-kill-process";
/// See [`START_NAME`].
pub(crate) const ATTACH_NAME: &str = "leasebox-attach-process";

/// A script's full text: the shared functions, then its body.
pub(crate) fn with_functions(body: &str) -> String {
    format!("{FUNCTIONS}{body}")
}

/// The supervisor's full text (it uses `killtree` and `nap`).
pub(crate) fn supervisor() -> String {
    with_functions(SUPERVISOR_SCRIPT)
}
