/**
 * The records `leasebox serve` sends, as it sends them (camelCase keys);
 * docs/serve.md has the table of methods and results.
 */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A configuration: an object, or its JSON text. */
export type Config = { [key: string]: Json } | string;

/** One problem of a configuration; `path` names the field (`backend`, `workspace.type`). */
export interface Issue {
  path: string;
  message: string;
}

/** The answer of `validate`. */
export interface ValidationReport {
  ok: boolean;
  errors: Issue[];
  warnings: Issue[];
  /** The configuration with its defaults filled in; `null` when it is invalid. */
  normalizedConfig: { [key: string]: Json } | null;
}

/** One check of `probe`. */
export interface ProbeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** The answer of `probe`. */
export interface ProbeReport {
  ok: boolean;
  checks: ProbeCheck[];
}

/** A Kubernetes object a lease is made of. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

/** The lease record (`acquire`, `renew`, `list`, `status`). */
export interface Lease {
  id: string;
  namespace: string;
  backend: 'sandbox-cr' | 'job' | 'pod';
  pod: string;
  container: string;
  secret: string;
  workload: ObjectRef;
  companyId: string;
  runId: string;
  adapterType: string;
  image: string;
  createdAt: string;
  expiresAt: string;
  moduleSha256: string;
  /**
   * In the answer of `acquire` only: true when a ready pod of the tenant's
   * warm pool was claimed, false when the pod was started.
   */
  warm?: boolean;
}

/** The answer of `pool.ensure`: what the tenant's warm pool holds. */
export interface PoolReport {
  namespace: string;
  /** The pool's name (label `leasebox.dev/pool`); empty when the configuration asks for none. */
  pool: string;
  /** The pods it is kept at: `warmPool.size`, at most the operator's caps. */
  size: number;
  /** Unclaimed pods ready to claim. */
  ready: number;
  /** Unclaimed pods still starting. */
  starting: number;
  /** Pool pods this call started. */
  created: ObjectRef[];
  /** Stale pool pods this call deleted (another module or pod spec, failed, idle, beyond the size). */
  replaced: ObjectRef[];
}

/** How a command ended (`exec`, `realizeWorkspace`, `terminal.open`, `process.attach`, post-upload commands). */
export interface ExecStatus {
  /** The process's exit code, or 128+N after signal N; `null` when it timed out or no status arrived. */
  exitCode: number | null;
  /** The number of the signal that ended it, when one did. */
  signal: number | null;
  timedOut: boolean;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** leasebox's note on the outcome (empty when there is none). */
  message: string;
}

/** The answer of `release`. */
export interface ReleaseReport {
  deleted: ObjectRef[];
  /** True when the lease was already gone: releasing twice is not an error. */
  alreadyGone: boolean;
}

/** The answer of `status`. */
export interface LeaseStatus {
  phase: 'pending' | 'ready' | 'finished' | 'failed' | 'terminating';
  ready: boolean;
  message: string;
  lease: Lease;
}

/** The answer of `sweep`. */
export interface SweepReport {
  expired: ObjectRef[];
  kept: number;
}

/** The module a server runs (`policy.info`, `policy.reload`). */
export interface PolicyInfo {
  /** `default` for the built-in module, else the file. */
  source: string;
  sha256: string;
  contract: string;
  sizeBytes: number;
  /** The file watched for changes, if any. */
  watched: string | null;
}

/** The answer of `health`. */
export interface Health {
  ok: boolean;
  module: PolicyInfo;
  /** `configured` or `none`. */
  cluster: 'configured' | 'none';
  swaps: number;
  refusedModules: number;
  guardDenials: { [key: string]: number };
}

/** The answer of `plan`. */
export interface Plan {
  manifests: { [key: string]: Json }[];
}

/** One chunk of a command's output. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

/** One line the server logged on its stderr. */
export interface LogEntry {
  level: string;
  context: string;
  message: string;
}

/** A detached process in a lease (`process.start`, `process.list`, `process.kill`). */
export interface ProcessInfo {
  /** The id `process.start` gave it: what `attachProcess` and `killProcess` name. */
  id: string;
  /** What it runs, as started (a shell command line as `sh -lc SCRIPT`). */
  argv: string[];
  /** RFC 3339 start time, by the pod's clock. */
  startedAt: string;
  running: boolean;
  /** Its exit code once it has ended (128+N after signal N); `null` while it runs or when its end was not recorded. */
  exitCode: number | null;
  /** Bytes of stdout kept in the pod (the offset at which new output starts). */
  stdoutBytes: number;
  stderrBytes: number;
  /** True when stdout passed the module's cap and the rest was dropped. */
  stdoutDropped: boolean;
  stderrDropped: boolean;
}

/** A path in a sandbox (`files.stat`, `files.list`); a symbolic link is not followed. */
export interface FileEntry {
  /** The path, absolute. */
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** Permission bits as octal text: `0644`. */
  mode: string;
  /** Last modification, seconds since the Unix epoch. */
  modified: number;
  /** Where a symbolic link points; `null` for anything else. */
  linkTarget: string | null;
}

/** The answer of `files.remove`. */
export interface RemoveReport {
  /** False when nothing was at the path. */
  removed: boolean;
}

/** The answer of `files.write`. */
export interface WriteReport {
  path: string;
  bytes: number;
  /** The mode written, as octal text: `0600`. */
  mode: string;
}

/** The answer of `files.read`, its data decoded. */
export interface FileContent {
  path: string;
  /** The file's bytes. */
  data: Uint8Array;
  size: number;
  /** Its mode, as octal text: `0644`. */
  mode: string;
}

/**
 * One path copied by `files.syncIn` / `files.syncOut`: `sourcePath` on the
 * sending side, `targetPath` on the receiving side (the server's own files
 * on its side, absolute). A `targetPath` is the copy itself: a tree lands
 * at that path, merged into a directory already there; a file replaces
 * what is there.
 */
export interface SyncMapping {
  sourcePath: string;
  targetPath: string;
  kind: 'file' | 'directory';
  /** Globs of paths left out, relative to `sourcePath` (`*.log` at any depth; an excluded directory with all below). */
  exclude?: string[];
  /** Copy what symbolic links point to instead of the links. */
  followSymlinks?: boolean;
}

/** A mapping of `files.syncIn`, with the mode of the regular files it copies. */
export interface SyncInMapping extends SyncMapping {
  /** A number (`0o600`) or octal text (`"0600"`); default the files' own. */
  mode?: number | string;
}

/** A command `files.syncIn` runs (`sh -lc`) after an operation's files have landed. */
export interface PostUploadCommand {
  command: string;
  /** Default the operation's first target directory. */
  cwd?: string;
  timeoutMs?: number;
}

/** A group of mappings `files.syncIn` copies together, then its commands in order. */
export interface SyncInOperation {
  operationId: string;
  files: SyncInMapping[];
  postUploadCommands?: PostUploadCommand[];
}

/** A mapping of `files.syncOut`, with the mode of the regular files it writes on the server's machine. */
export interface SyncOutMapping extends SyncMapping {
  /**
   * A number (`0o600`) or octal text (`"0600"`): the one file of a `file`
   * mapping, every file of a tree (not its directories or links), each
   * created with it before a byte lands; default the files' modes in the
   * sandbox.
   */
  mode?: number | string;
}

/** A group of mappings `files.syncOut` copies together (no commands). */
export interface SyncOutOperation {
  operationId: string;
  files: SyncOutMapping[];
}

/** The counts of one operation copied. */
export interface SyncedOperation {
  operationId: string;
  /** Regular files and symbolic links copied. */
  filesTransferred: number;
  bytesTransferred: number;
  /** Entries that cannot be copied (sockets, FIFOs, devices, hard links to a file outside the copy); excluded ones are not counted. */
  skipped: number;
}

/** One operation of `files.syncIn`, with the status of each command it ran. */
export interface SyncedInOperation extends SyncedOperation {
  postUploadCommands: ExecStatus[];
}

/** The command that stopped a `files.syncIn` (it did not exit 0). */
export interface FailedCommand {
  operationId: string;
  command: string;
  /** `null` when it timed out. */
  exitCode: number | null;
  timedOut: boolean;
}

/** The answer of `files.syncIn`: the operations done, and the command that stopped it, if one did. */
export interface SyncInReport {
  operations: SyncedInOperation[];
  failedCommand?: FailedCommand;
}

/** The answer of `files.syncOut`. */
export interface SyncOutReport {
  operations: SyncedOperation[];
}
