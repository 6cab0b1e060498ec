/**
 * `LeaseboxClient`: a `leasebox serve` (a child process, or a server on a Unix
 * socket) and typed calls to it,
 * in the terms of a platform's environment provider (acquire a lease,
 * realize a workspace, execute, release), and the calls of contract 0.3.0
 * (terminals, detached processes, files).
 */

import { createInterface } from 'node:readline';

import { LeaseboxError } from './errors.js';
import { ExecStream } from './exec-stream.js';
import { connectServer, spawnServer, type Link, type LinkEnd } from './link.js';
import { RpcConnection, type CallOptions } from './rpc.js';
import { probeSummary } from './summary.js';
import { Terminal } from './terminal.js';
import type {
  Config,
  ExecStatus,
  FileContent,
  FileEntry,
  Health,
  Json,
  Lease,
  LeaseStatus,
  LogEntry,
  OutputChunk,
  Plan,
  PolicyInfo,
  PoolReport,
  ProbeReport,
  ProcessInfo,
  ReleaseReport,
  RemoveReport,
  SweepReport,
  SyncInOperation,
  SyncInReport,
  SyncOutOperation,
  SyncOutReport,
  ValidationReport,
  WriteReport,
} from './types.js';

/** Where `realizeWorkspace` unpacks when no path is given (the default policy module's). */
export const DEFAULT_WORKSPACE_PATH = '/workspace';

/** How many of the server's last log lines are kept for error messages and {@link LeaseboxClient.logs}. */
const LOG_TAIL = 100;

/** An empty tar archive: two zero blocks. */
const EMPTY_TAR = new Uint8Array(1024);

export interface SpawnOptions {
  /** The leasebox binary; default `LEASEBOX_BIN`, then `leasebox` on the PATH. */
  binary?: string;
  /** Extra flags of `serve`, e.g. `['--kubeconfig', path, '--policy', file]`. */
  args?: string[];
  /** The server's whole environment; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Receives each line the server logs on its stderr. */
  onLog?: (entry: LogEntry) => void;
}

/** The AbortSignal of any call: aborting it sends `$/cancelRequest`. */
export interface Cancellable {
  signal?: AbortSignal;
}

/** Which lease a call is about. */
export interface LeaseTarget extends Cancellable {
  /** The lease id (`lease.id`). */
  providerLeaseId: string;
  /** Its namespace; found by the lease's labels when left out. */
  namespace?: string;
}

export interface AcquireOptions extends Cancellable {
  config: Config;
  companyId: string;
  /** The platform's run; default the lease id. */
  runId?: string;
  /** One of the configuration's adapters; default its `adapterType`. */
  adapterType?: string;
  /** An image instead of the adapter's (checked against `imageAllowList`). */
  image?: string;
  /** The container's command instead of the adapter's. */
  command?: string[];
}

/** The warm pool to fill: a configuration with `warmPool`, for a company. */
export interface EnsurePoolOptions extends Cancellable {
  config: Config;
  companyId: string;
  /** The pool's adapter; default the configuration's `adapterType`. */
  adapterType?: string;
  /** The pool's image instead of the adapter's. */
  image?: string;
}

export interface PlanOptions extends Omit<AcquireOptions, 'companyId'> {
  companyId?: string;
  /** The lease id the manifests are planned for; default a new one. */
  leaseId?: string;
  /** The time the plan is made at (RFC 3339); default now. */
  now?: string;
}

export interface AcquiredLease {
  /** The lease id: what every later call names. */
  providerLeaseId: string;
  /** The whole lease record (namespace, pod, container, expiry, ...). */
  metadata: Lease;
}

export interface ProbeResult {
  ok: boolean;
  /** One line: which checks passed, or which failed and why. */
  summary: string;
  metadata: ProbeReport;
}

export interface RealizeOptions extends LeaseTarget {
  /** The absolute directory to unpack into; default `/workspace`. */
  path?: string;
  /** A tar archive; without it the directory is only made. */
  tar?: Uint8Array;
}

export interface ExecuteOptions extends LeaseTarget {
  /** A shell command line (`sh -c`); give this or `args`. */
  command?: string;
  /** An argv, run without a shell; give this or `command`. */
  args?: string[];
  /** The command's stdin; without it the command reads end-of-file. */
  stdin?: string | Uint8Array;
  cwd?: string;
  env?: Record<string, string>;
  /** Kill the command after this long (the result then has `timedOut: true`). */
  timeoutMs?: number;
  /** Cut stdout after this many bytes (`stdoutTruncated`). */
  maxStdoutBytes?: number;
  /** Cut stderr after this many bytes (`stderrTruncated`). */
  maxStderrBytes?: number;
}

/** A detached process to start: as {@link ExecuteOptions}, without stdin (it reads none). */
export type StartProcessOptions = Omit<ExecuteOptions, 'stdin'>;

export interface TerminalOptions extends LeaseTarget {
  /** An argv to run; without it the module's default (the login shell). */
  args?: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** The window size at the start (later ones with `resize`). */
  rows: number;
  cols: number;
  /** `TERM` (e.g. `xterm-256color`); default the module's. */
  term?: string;
}

/** Which detached process a call is about. */
export interface ProcessTarget extends LeaseTarget {
  /** The id `startProcess` answered. */
  processId: string;
}

export interface AttachOptions extends ProcessTarget {
  /** Send stdout from this byte of what the pod kept (default 0: all of it). */
  stdoutOffset?: number;
  stderrOffset?: number;
  /** Follow until the process ends (default true); false sends what is kept and answers at once. */
  follow?: boolean;
}

export interface KillOptions extends ProcessTarget {
  /** The signal sent first, 1-64 (default SIGTERM); what is left after the module's grace period gets SIGKILL. */
  signalNumber?: number;
}

/** A path in a lease: absolute, inside the roots the policy module allows. */
export interface PathTarget extends LeaseTarget {
  path: string;
}

export interface WriteFileOptions extends PathTarget {
  /** The file's bytes; a string is written as UTF-8. */
  data: string | Uint8Array;
  /** A number (`0o600`) or octal text (`"0600"`); default `0644`. */
  mode?: number | string;
}

export interface SyncInOptions extends LeaseTarget {
  operations: SyncInOperation[];
  /** Receives the output of the post-upload commands. */
  onOutput?: (chunk: OutputChunk) => void;
}

export interface SyncOutOptions extends LeaseTarget {
  operations: SyncOutOperation[];
}

/** How a command ended, with its output decoded as UTF-8. */
export interface ExecResult extends ExecStatus {
  stdout: string;
  stderr: string;
}

export class LeaseboxClient {
  private readonly recentLogs: LogEntry[] = [];
  private readonly exited: Promise<LinkEnd>;

  private constructor(
    private readonly link: Link,
    private readonly rpc: RpcConnection,
    onLog: ((entry: LogEntry) => void) | undefined,
  ) {
    if (link.logs !== undefined) {
      createInterface({ input: link.logs, crlfDelay: Infinity }).on('line', (line) => {
        const entry = parseLogLine(line);
        this.recentLogs.push(entry);
        if (this.recentLogs.length > LOG_TAIL) {
          this.recentLogs.shift();
        }
        onLog?.(entry);
      });
    }
    this.exited = link.ended.then((end) => {
      this.rpc.fail(
        LeaseboxError.client('server-exited', `${link.describe(end)}; ${this.lastWords()}`, undefined, {
          exitCode: end.code,
          signal: end.signal,
        }),
      );
      return end;
    });
  }

  /** Starts `leasebox serve` (stdio) and resolves once the process runs. */
  static async spawn(options: SpawnOptions = {}): Promise<LeaseboxClient> {
    const binary = options.binary ?? process.env['LEASEBOX_BIN'] ?? 'leasebox';
    const link = await spawnServer(binary, options.args ?? [], options.env ?? process.env);
    return LeaseboxClient.over(link, options.onLog);
  }

  /**
   * Connects to a `leasebox serve --listen unix:PATH` already running (a sidecar, say) and resolves once
   * connected. {@link close} ends this connection, not the server.
   */
  static async connect(socketPath: string): Promise<LeaseboxClient> {
    return LeaseboxClient.over(await connectServer(socketPath), undefined);
  }

  private static over(link: Link, onLog: ((entry: LogEntry) => void) | undefined): LeaseboxClient {
    let client: LeaseboxClient | undefined;
    const rpc = new RpcConnection(link.toServer, link.fromServer, (line, why) => {
      client?.strayLine(line, why);
    });
    client = new LeaseboxClient(link, rpc, onLog);
    return client;
  }

  /** The server's last log lines (at most 100), oldest first; none over a socket. */
  get logs(): readonly LogEntry[] {
    return this.recentLogs;
  }

  /** The server's process id; undefined over a socket. */
  get pid(): number | undefined {
    return this.link.pid;
  }

  /** Settles once the server (or the socket) is gone, for whatever reason. */
  get ended(): Promise<LinkEnd> {
    return this.exited;
  }

  /**
   * Ends the server's stdin (or this socket connection) and waits for it to end; the calls still in flight are
   * cancelled by the server. Rejects when it ends other than cleanly.
   */
  async close(): Promise<void> {
    this.rpc.refuseNewCalls(LeaseboxError.client('client-closed', 'the client was closed; spawn a new one'));
    this.link.end();
    const end = await this.exited;
    if (end.code !== 0) {
      throw LeaseboxError.client('server-exited', `${this.link.describe(end)}; ${this.lastWords()}`, 'close', {
        exitCode: end.code,
        signal: end.signal,
      });
    }
  }

  /** Any method, as is: for methods this class does not wrap. */
  call<T = unknown>(method: string, params: object = {}, options: Cancellable = {}): Promise<T> {
    return this.rpc.call<T>(method, params, { signal: options.signal });
  }

  health(options: Cancellable = {}): Promise<Health> {
    return this.call('health', {}, options);
  }

  /** The module the server runs. */
  policyInfo(options: Cancellable = {}): Promise<PolicyInfo> {
    return this.call('policy.info', {}, options);
  }

  /**
   * Swaps in the module at `path` (or reloads the watched file); rejects with `-32004` when it is refused. A `path`
   * is refused (`reload-from-clients-off`, `outside-module-dir`) unless the operator's host settings allow it
   * (`serve.reload.fromClients`, inside `serve.moduleDir`).
   */
  policyReload(path?: string, options: Cancellable = {}): Promise<PolicyInfo> {
    return this.call('policy.reload', { path }, options);
  }

  /** The configuration's JSON Schema. */
  schema(options: Cancellable = {}): Promise<{ [key: string]: Json }> {
    return this.call('schema', {}, options);
  }

  /** Every problem of `config`, each naming its field; an invalid config is a result, not an error. */
  validateConfig(config: Config, options: Cancellable = {}): Promise<ValidationReport> {
    return this.call('validate', { config }, options);
  }

  /** The manifests an acquire would apply (no cluster needed). */
  plan(options: PlanOptions): Promise<Plan> {
    const { signal, ...params } = options;
    return this.call('plan', params, { signal });
  }

  /** Whether the cluster can take leases of `config` for `companyId`. */
  async probe(config: Config, options: Cancellable & { companyId?: string } = {}): Promise<ProbeResult> {
    const report = await this.call<ProbeReport>('probe', { config, companyId: options.companyId }, options);
    return { ok: report.ok, summary: probeSummary(report), metadata: report };
  }

  /** A new sandbox, ready to run commands. */
  async acquireLease(options: AcquireOptions): Promise<AcquiredLease> {
    const { signal, ...params } = options;
    const lease = await this.call<Lease>('acquire', params, { signal });
    return { providerLeaseId: lease.id, metadata: lease };
  }

  /**
   * Brings the company's warm pool to `warmPool.size` now (within the
   * operator's `pools` caps), without waiting for its pods to be ready.
   * `acquireLease` claims from it (`metadata.warm`) and refills it.
   */
  async ensurePool(options: EnsurePoolOptions): Promise<PoolReport> {
    const { signal, ...params } = options;
    return this.call<PoolReport>('pool.ensure', params, { signal });
  }

  /**
   * Unpacks `tar` into `path` in the sandbox (made if missing); resolves
   * with that directory. Rejects with reason `unpack-failed` when tar
   * exits non-zero.
   */
  async realizeWorkspace(options: RealizeOptions): Promise<{ cwd: string }> {
    const path = options.path ?? DEFAULT_WORKSPACE_PATH;
    const stderr: Uint8Array[] = [];
    const status = await this.rpc.call<ExecStatus>(
      'realizeWorkspace',
      { leaseId: options.providerLeaseId, namespace: options.namespace, path: options.path },
      {
        signal: options.signal,
        stdin: options.tar ?? EMPTY_TAR,
        onOutput: (chunk) => {
          if (chunk.stream === 'stderr') stderr.push(chunk.data);
        },
      },
    );
    if (status.exitCode !== 0) {
      const said = decode(stderr).trim();
      throw LeaseboxError.client(
        'unpack-failed',
        `unpacking the tar into ${path} failed (${describeStatus(status)})${said ? `: ${said}` : ''}; check that the archive is a tar and the path is writable`,
        'realizeWorkspace',
        { status, stderr: said },
      );
    }
    return { cwd: path };
  }

  /** Runs a command to its end; its output decoded as UTF-8. A non-zero exit code is a result. */
  async execute(options: ExecuteOptions): Promise<ExecResult> {
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    const status = await this.exec(options, (chunk) => {
      (chunk.stream === 'stdout' ? stdout : stderr).push(chunk.data);
    });
    return { ...status, stdout: decode(stdout), stderr: decode(stderr) };
  }

  /** Runs a command; its output as it comes, then its status (see {@link ExecStream}). */
  executeStream(options: ExecuteOptions): ExecStream {
    return new ExecStream((onOutput) => this.exec(options, onOutput));
  }

  /** Deletes the lease's objects; releasing a lease that is gone resolves with `alreadyGone: true`. */
  releaseLease(options: LeaseTarget): Promise<ReleaseReport> {
    return this.call('release', target(options), options);
  }

  /** Moves the lease's expiry to `ttlSeconds` from now (`now`, RFC 3339, default the server's clock). */
  async renewLease(options: LeaseTarget & { ttlSeconds: number; now?: string }): Promise<AcquiredLease> {
    const params = { ...target(options), ttlSeconds: options.ttlSeconds, now: options.now };
    const lease = await this.call<Lease>('renew', params, options);
    return { providerLeaseId: lease.id, metadata: lease };
  }

  /** The lease's phase and record; rejects with reason `lease-not-found` when it is gone. */
  leaseStatus(options: LeaseTarget): Promise<LeaseStatus> {
    return this.call('status', target(options), options);
  }

  /** The leases (of a company, or in a namespace), oldest first. */
  async listLeases(options: Cancellable & { companyId?: string; namespace?: string } = {}): Promise<Lease[]> {
    const { signal, ...params } = options;
    const { leases } = await this.call<{ leases: Lease[] }>('list', params, { signal });
    return leases;
  }

  /** Deletes the expired leases. */
  sweep(options: Cancellable & { now?: string; namespace?: string } = {}): Promise<SweepReport> {
    const { signal, ...params } = options;
    return this.call('sweep', params, { signal });
  }

  /**
   * A terminal running `args` (or the login shell): write its input, resize it, iterate its output, await its exit
   * status (see {@link Terminal}). Rejects (through `result` and the iteration) like `execute`.
   */
  openTerminal(options: TerminalOptions): Terminal {
    const params = {
      ...target(options),
      command: options.args,
      cwd: options.cwd,
      env: options.env,
      rows: options.rows,
      cols: options.cols,
      term: options.term,
    };
    return new Terminal((onOutput) =>
      this.rpc.start<ExecStatus>('terminal.open', params, { signal: options.signal, onOutput, stdin: true }),
    );
  }

  /** Starts a detached process, which outlives the call; resolves at once with its record (`id` names it later). */
  startProcess(options: StartProcessOptions): Promise<ProcessInfo> {
    return this.call('process.start', commandParams(options), options);
  }

  /** The lease's detached processes, oldest first. */
  listProcesses(options: LeaseTarget): Promise<ProcessInfo[]> {
    return this.call('process.list', target(options), options);
  }

  /**
   * A detached process's kept output from the offsets, as it comes (following it to its end unless `follow` is
   * false), then its status (see {@link ExecStream}); with `follow: false` the status has `exitCode: null` while it
   * runs.
   */
  attachProcess(options: AttachOptions): ExecStream {
    const params = {
      ...target(options),
      processId: options.processId,
      stdoutOffset: options.stdoutOffset,
      stderrOffset: options.stderrOffset,
      follow: options.follow,
    };
    return new ExecStream((onOutput) =>
      this.rpc.call<ExecStatus>('process.attach', params, { signal: options.signal, onOutput }),
    );
  }

  /** Ends a detached process (and its process tree); resolves with its record as it ended. */
  killProcess(options: KillOptions): Promise<ProcessInfo> {
    const params = { ...target(options), processId: options.processId, signal: options.signalNumber };
    return this.call('process.kill', params, options);
  }

  /** What is at `path` (a symbolic link is not followed), or `null` when nothing is. */
  statPath(options: PathTarget): Promise<FileEntry | null> {
    return this.call('files.stat', { ...target(options), path: options.path }, options);
  }

  /** The entries of the directory `path`, by name. */
  listDirectory(options: PathTarget): Promise<FileEntry[]> {
    return this.call('files.list', { ...target(options), path: options.path }, options);
  }

  /** Removes `path` (a directory only with `recursive`); `removed: false` when nothing was there. */
  removePath(options: PathTarget & { recursive?: boolean }): Promise<RemoveReport> {
    const params = { ...target(options), path: options.path, recursive: options.recursive };
    return this.call('files.remove', params, options);
  }

  /** Writes `data` to the file `path` (made, or replaced) with `mode`. */
  writeFile(options: WriteFileOptions): Promise<WriteReport> {
    const bytes = typeof options.data === 'string' ? Buffer.from(options.data, 'utf8') : options.data;
    const params = {
      ...target(options),
      path: options.path,
      data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
      mode: options.mode,
    };
    return this.call('files.write', params, options);
  }

  /** The bytes of the regular file `path` (at most 8 MiB; copy bigger ones with `syncOut`). */
  async readFile(options: PathTarget): Promise<FileContent> {
    const answer = await this.call<Omit<FileContent, 'data'> & { data: string }>(
      'files.read',
      { ...target(options), path: options.path },
      options,
    );
    return { ...answer, data: new Uint8Array(Buffer.from(answer.data, 'base64')) };
  }

  /**
   * Copies the server's files into the sandbox, operation by operation, running each operation's post-upload
   * commands after its files; the first command that does not exit 0 stops it (`failedCommand`). A file of the
   * server's that cannot be read rejects with `-32006` (`local-files`).
   */
  syncIn(options: SyncInOptions): Promise<SyncInReport> {
    const params = { ...target(options), operations: options.operations };
    return this.rpc.call('files.syncIn', params, { signal: options.signal, onOutput: options.onOutput });
  }

  /**
   * Copies the sandbox's files to the server's machine; an entry of the sandbox's stream that would leave its
   * target or go through a symbolic link rejects with `-32006` (`local-files`).
   */
  syncOut(options: SyncOutOptions): Promise<SyncOutReport> {
    return this.call('files.syncOut', { ...target(options), operations: options.operations }, options);
  }

  private exec(options: ExecuteOptions, onOutput: (chunk: OutputChunk) => void): Promise<ExecStatus> {
    const stdin = typeof options.stdin === 'string' ? Buffer.from(options.stdin, 'utf8') : options.stdin;
    const params = { ...commandParams(options), stdin: stdin !== undefined };
    const callOptions: CallOptions = { signal: options.signal, onOutput, stdin };
    return this.rpc.call<ExecStatus>('exec', params, callOptions);
  }

  private strayLine(line: string, why: string): void {
    const entry = { level: 'warn', context: 'client', message: `a line from the server was ignored, ${why}: ${line.slice(0, 500)}` };
    this.recentLogs.push(entry);
  }

  private lastWords(): string {
    const last = this.recentLogs.slice(-5).map((entry) => `${entry.level} ${entry.context}: ${entry.message}`);
    return last.length === 0 ? 'it logged nothing' : `its last messages: ${last.join(' | ')}`;
  }
}

/** `{leaseId, namespace}` of a call about one lease. */
function target(options: LeaseTarget): { leaseId: string; namespace: string | undefined } {
  return { leaseId: options.providerLeaseId, namespace: options.namespace };
}

/** The params of `exec` and `process.start` but `stdin`. */
function commandParams(options: StartProcessOptions): object {
  return {
    ...target(options),
    command: options.args,
    shell: options.command,
    cwd: options.cwd,
    env: options.env,
    timeoutMs: options.timeoutMs,
    maxStdoutBytes: options.maxStdoutBytes,
    maxStderrBytes: options.maxStderrBytes,
  };
}

function decode(chunks: Uint8Array[]): string {
  return Buffer.concat(chunks).toString('utf8');
}

/** How a command ended, in a few words (the status's `message` is left to `data.status`: it can be long). */
function describeStatus(status: ExecStatus): string {
  if (status.timedOut) return 'timed out';
  if (status.signal !== null) return `killed by signal ${status.signal}`;
  return `exit code ${status.exitCode}`;
}

/** A stderr line of the server: a JSON log object, or kept as it is. */
function parseLogLine(line: string): LogEntry {
  try {
    const value = JSON.parse(line) as Partial<LogEntry>;
    if (typeof value === 'object' && value !== null && typeof value.message === 'string') {
      return { level: String(value.level ?? 'info'), context: String(value.context ?? ''), message: value.message };
    }
  } catch {
    // Not JSON: kept as is below.
  }
  return { level: 'info', context: 'stderr', message: line };
}
