//! The in-pod scripts of the file calls. Each starts with [`PRELUDE`],
//! which takes the allowed roots off the front of the arguments (`$1` =
//! their count, then the roots) and defines `confine`, the in-pod half of
//! the rule `file-roots`: the real path a path has or would have (`wouldbe`:
//! its deepest existing ancestor through `readlink -f`, then the parts that
//! do not exist yet, which hold no link) must be inside the real path a
//! root has or would have, else the script exits [`EXIT_OUTSIDE_ROOTS`]
//! before touching anything.
//! `confine PATH 0` checks the parent of PATH instead (the last part is
//! not followed: a symbolic link itself is stat'ed, archived or removed,
//! not what it points to).
//!
//! Records the guest parses ([`STAT_SCRIPT`], [`LIST_SCRIPT`]) are three
//! NUL-terminated fields each, `<mode-hex> <size> <mtime>`, the name and
//! the link target (`readlink`'s line, empty for a non-link): no file name
//! or link target can hold a NUL byte, so any name round-trips.

/// Exit code: the path is outside every allowed root (after resolving
/// symbolic links in the pod).
pub(crate) const EXIT_OUTSIDE_ROOTS: i32 = 80;
/// Exit code: the path does not exist.
pub(crate) const EXIT_NOT_FOUND: i32 = 81;
/// Exit code: the path is not a directory (`list-directory`).
pub(crate) const EXIT_NOT_DIRECTORY: i32 = 82;
/// Exit code: the directory is not empty and `recursive` is false.
pub(crate) const EXIT_NOT_EMPTY: i32 = 83;
/// Exit code: the path is an allowed root itself (`remove-path`).
pub(crate) const EXIT_IS_ROOT: i32 = 84;
/// Exit code: the image has no `tar`.
pub(crate) const EXIT_NO_TAR: i32 = 86;
/// Exit code: the image has no `stat`.
pub(crate) const EXIT_NO_STAT: i32 = 88;

/// Roots off the arguments, `inside REAL`, `confine PATH FOLLOW`.
pub(crate) const PRELUDE: &str = r#"__n=$1; shift; __i=0
while [ "$__i" -lt "$__n" ]; do eval "__root_$__i=\$1"; shift; __i=$((__i + 1)); done
wouldbe() {
  __w=$1; __rest=
  while [ ! -e "$__w" ] && [ ! -L "$__w" ]; do
    __rest=/${__w##*/}$__rest; __w=${__w%/*}; [ -n "$__w" ] || __w=/
  done
  __wr=$(readlink -f "$__w" 2>/dev/null)
  [ -n "$__wr" ] || return 1
  [ "$__wr" = / ] && __wr=
  printf '%s\n' "$__wr$__rest"
}
inside() {
  __i=0
  while [ "$__i" -lt "$__n" ]; do
    eval "__r=\$__root_$__i"
    __rr=$(wouldbe "$__r")
    if [ -n "$__rr" ]; then
      case "$1/" in "$__rr"/*) return 0 ;; esac
    fi
    __i=$((__i + 1))
  done
  return 1
}
confine() {
  __p=$1
  if [ "$2" = 0 ]; then __p=${__p%/*}; [ -n "$__p" ] || __p=/; fi
  __real=$(wouldbe "$__p")
  [ -n "$__real" ] && inside "$__real" || exit 80
}
record() {
  __s=$(stat -c '%f %s %Y' "$1" 2>/dev/null) || return 1
  printf '%s\0%s\0' "$__s" "$2"
  if [ -L "$1" ]; then readlink "$1"; fi
  printf '\0'
}
"#;

/// `write-files`: `$1` the target. Makes it (with its parents), checks it
/// again, then unpacks stdin there with modes kept (`-p`) and no owner
/// change, under umask 022. Every tar creates a file with its own mode
/// minus the umask, so no file is ever more open than its own mode (a
/// 0600 file is never readable by others, not even while it is written);
/// GNU tar then sets the exact mode. Busybox tar, run by a non-root user,
/// never sets it afterwards: with umask 022 its files keep their mode but
/// group and other write bits (with 077, which the first design had, every
/// file ended up 0700 or 0600). Directories tar makes for entries whose
/// parents the archive lacks get 0755.
pub(crate) const WRITE_SCRIPT: &str = r#"confine "$1" 1
command -v tar >/dev/null 2>&1 || exit 86
umask 022
mkdir -p "$1" || exit 1
confine "$1" 1
cd "$1" || exit 1
exec tar -x -p --no-same-owner -f -
"#;

/// `read-files`: `$1` the source, `$2` how it is confined (1: the source
/// itself, for a root or when links are followed; 0: its parent, so a
/// link is archived as a link), `$3` 1 to follow symbolic links (`tar -h`;
/// then every link below the source must point inside a root too), then
/// the exclude globs. A tar whose `--exclude` is unknown (busybox)
/// archives everything: the host filters what it unpacks.
pub(crate) const READ_SCRIPT: &str = r#"__src=$1; __mode=$2; __follow=$3; shift 3
confine "$__src" "$__mode"
[ -e "$__src" ] || [ -L "$__src" ] || exit 81
command -v tar >/dev/null 2>&1 || exit 86
if [ "$__follow" = 1 ] && [ -d "$__src" ]; then
  __bad=$(find "$__src" -type l -exec sh -c 'for l; do r=$(readlink -f "$l" 2>/dev/null) || continue; [ -n "$r" ] && printf "%s\n" "$r"; done' leasebox-links {} + 2>/dev/null | while IFS= read -r __t; do inside "$__t" || { echo x; break; }; done)
  [ -z "$__bad" ] || exit 80
fi
__parent=${__src%/*}; [ -n "$__parent" ] || __parent=/
__name=${__src##*/}
__ex=
if [ $# -gt 0 ] && tar --exclude=x -c -f /dev/null -C / --no-recursion tmp >/dev/null 2>&1; then __ex=1; fi
__k=$#
while [ "$__k" -gt 0 ]; do
  [ -n "$__ex" ] && set -- "$@" "--exclude=$1"
  shift; __k=$((__k - 1))
done
if [ "$__follow" = 1 ]; then set -- -h "$@"; fi
exec tar -c -f - -C "$__parent" "$@" -- "$__name"
"#;

/// `stat-path`: `$1` the path, `$2` 0 (a link is not followed) or 1 (the
/// path is a root). One record, or exit 81.
pub(crate) const STAT_SCRIPT: &str = r#"confine "$1" "$2"
command -v stat >/dev/null 2>&1 || exit 88
[ -e "$1" ] || [ -L "$1" ] || exit 81
record "$1" "$1" || exit 81
"#;

/// `list-directory`: `$1` the directory (followed). One record per entry
/// (`.` and `..` left out), named by the entry's name; an entry removed
/// while listing is left out.
pub(crate) const LIST_SCRIPT: &str = r#"confine "$1" 1
command -v stat >/dev/null 2>&1 || exit 88
[ -e "$1" ] || exit 81
[ -d "$1" ] || exit 82
__d=${1%/}
for __e in "$__d"/* "$__d"/.*; do
  __b=${__e##*/}
  case $__b in .|..) continue ;; esac
  [ -e "$__e" ] || [ -L "$__e" ] || continue
  record "$__e" "$__b"
done
exit 0
"#;

/// `remove-path`: `$1` the path (its last part not followed), `$2` 1 for
/// recursive. A root itself is refused (84); a missing path exits 81.
pub(crate) const REMOVE_SCRIPT: &str = r#"confine "$1" 0
[ -e "$1" ] || [ -L "$1" ] || exit 81
if [ ! -L "$1" ]; then
  __real=$(readlink -f "$1")
  __i=0
  while [ "$__i" -lt "$__n" ]; do
    eval "__r=\$__root_$__i"
    [ "$(readlink -f "$__r" 2>/dev/null)" = "$__real" ] && exit 84
    __i=$((__i + 1))
  done
fi
if [ -d "$1" ] && [ ! -L "$1" ]; then
  if [ "$2" = 1 ]; then exec rm -rf "$1"; fi
  rmdir "$1" 2>/dev/null && exit 0
  [ -n "$(ls -A "$1" 2>/dev/null)" ] && exit 83
  exec rmdir "$1"
fi
exec rm -f "$1"
"#;

/// `$0` of each script, as process lists show it.
pub(crate) const WRITE_NAME: &str = "leasebox-write-files";
/// See [`WRITE_NAME`].
pub(crate) const READ_NAME: &str = "leasebox-read-files";
/// See [`WRITE_NAME`].
pub(crate) const STAT_NAME: &str = "leasebox-stat";
/// See [`WRITE_NAME`].
pub(crate) const LIST_NAME: &str = "leasebox-list-directory";
/// See [`WRITE_NAME`].
pub(crate) const REMOVE_NAME: &str = "leasebox-remove";

/// A script's full text: the prelude, then its body.
pub(crate) fn with_prelude(body: &str) -> String {
    format!("{PRELUDE}{body}")
}
