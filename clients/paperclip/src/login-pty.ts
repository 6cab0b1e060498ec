/**
 * The login terminal (`loginPty*`): an agent CLI's own login flow in a
 * lease's sandbox, over leasebox's terminal (`terminal.open`), its output
 * streamed to Paperclip as `loginPty.output` and its end as `loginPty.exit`.
 *
 * The open request carries no command: a fixed key (`claude`, `codex`,
 * `grok`) picks one of the commands below, and the session home must have
 * the exact shape Paperclip makes (`/tmp/paperclip-adapter-login/<uuid>`).
 * The lease must be one this worker acquired or resumed for the same
 * company and environment, and not expired. Limits: a chunk of output or
 * input of at most 64 KiB, 4 MiB of output a session (more ends it), 16
 * sessions a worker and 4 a company at once.
 */

import { randomUUID } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';

import type { LeaseboxClient, Terminal } from '@leasebox/client';
import type {
  PluginLoginPtyCloseParams,
  PluginLoginPtyCloseResult,
  PluginLoginPtyInputParams,
  PluginLoginPtyOpenParams,
  PluginLoginPtyOpenResult,
  PluginLoginPtyStopParams,
} from '@paperclipai/plugin-sdk/protocol';

import type { LeaseRegistry } from './leases.js';

const SESSION_HOME = /^\/tmp\/paperclip-adapter-login\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The login command of each key, run by `sh -c` with the session home as
 * `$1` (never spliced into the script): the home is made, and the CLIs
 * that take a home directory get it.
 */
const LOGIN_SCRIPTS = {
  claude: 'mkdir -p -- "$1" && cd -- "$1" && exec claude setup-token',
  codex: 'mkdir -p -- "$1" && cd -- "$1" && CODEX_HOME="$1" exec codex login --device-auth',
  grok: 'mkdir -p -- "$1" && cd -- "$1" && GROK_HOME="$1" exec grok login --device-auth',
} as const;

export const MAX_CHUNK_BYTES = 64 * 1024;
export const MAX_SESSION_OUTPUT_BYTES = 4 * 1024 * 1024;
export const MAX_SESSIONS = 16;
export const MAX_SESSIONS_PER_COMPANY = 4;
/** The window a login terminal opens with (the SDK carries no size; device-code prompts fit it). */
const ROWS = 40;
const COLS = 120;

/** Where a session's output and end go: `ctx.loginPty`. */
export interface LoginPtyEvents {
  output(hostRouteId: string, workerSessionId: string, chunk: string): void;
  exit(hostRouteId: string, workerSessionId: string, exitCode: number | null): void;
}

interface Session {
  route: string;
  id: string;
  companyId: string;
  leaseId: string;
  terminal: Terminal | undefined;
  bytes: number;
  /** Set once `loginPty.exit` was sent (or must not be). */
  exited: boolean;
  closed: boolean;
}

export class LoginPtySessions {
  private readonly byRoute = new Map<string, Session>();
  private readonly byId = new Map<string, Session>();

  constructor(
    private readonly leases: LeaseRegistry,
    private readonly events: LoginPtyEvents,
  ) {}

  async open(
    client: LeaseboxClient,
    params: PluginLoginPtyOpenParams,
    driverKeys: readonly string[],
  ): Promise<PluginLoginPtyOpenResult> {
    if (!driverKeys.includes(params.driverKey)) {
      throw new Error(`loginPtyOpen: driverKey \`${params.driverKey}\` is not one of this plugin's (${driverKeys.join(', ')})`);
    }
    if (!SESSION_HOME.test(params.sessionHome)) {
      throw new Error('loginPtyOpen: sessionHome must be /tmp/paperclip-adapter-login/<uuid>');
    }
    if (!Object.hasOwn(LOGIN_SCRIPTS, params.loginCommandKey)) {
      throw new Error(`loginPtyOpen: loginCommandKey \`${params.loginCommandKey}\` is not one of ${Object.keys(LOGIN_SCRIPTS).join(', ')}`);
    }
    const lease = this.leases.remembered(params.providerLeaseId);
    if (lease === undefined || lease.companyId !== params.companyId || lease.environmentId !== params.environmentId) {
      throw new Error(
        `loginPtyOpen: lease ${params.providerLeaseId} was not acquired or resumed by this worker for this company and environment; acquire or resume it first`,
      );
    }
    if (!(Date.parse(lease.expiresAt) > Date.now())) {
      throw new Error(`loginPtyOpen: lease ${lease.id} expired at ${lease.expiresAt}`);
    }
    if (this.byRoute.has(params.hostRouteId)) {
      throw new Error(`loginPtyOpen: route ${params.hostRouteId} is already open`);
    }
    if (this.byRoute.size >= MAX_SESSIONS) {
      throw new Error(`loginPtyOpen: ${MAX_SESSIONS} login terminals are open in this worker; close one first`);
    }
    const ofCompany = [...this.byRoute.values()].filter((session) => session.companyId === params.companyId).length;
    if (ofCompany >= MAX_SESSIONS_PER_COMPANY) {
      throw new Error(`loginPtyOpen: company ${params.companyId} has ${MAX_SESSIONS_PER_COMPANY} login terminals open; close one first`);
    }
    const session: Session = {
      route: params.hostRouteId,
      id: `pty-${randomUUID()}`,
      companyId: params.companyId,
      leaseId: lease.id,
      terminal: undefined,
      bytes: 0,
      exited: false,
      closed: false,
    };
    this.byRoute.set(session.route, session);
    this.byId.set(session.id, session);
    const script = LOGIN_SCRIPTS[params.loginCommandKey as keyof typeof LOGIN_SCRIPTS];
    const terminal = client.openTerminal({
      providerLeaseId: lease.id,
      namespace: lease.namespace,
      args: ['sh', '-c', script, 'paperclip-login', params.sessionHome],
      rows: ROWS,
      cols: COLS,
    });
    session.terminal = terminal;
    void this.pump(session, terminal);
    return { workerSessionId: session.id };
  }

  async input(params: PluginLoginPtyInputParams): Promise<void> {
    if (Buffer.byteLength(params.data, 'utf8') > MAX_CHUNK_BYTES) {
      throw new Error(`loginPtyInput: more than ${MAX_CHUNK_BYTES} bytes in one input`);
    }
    const session = this.byId.get(params.workerSessionId);
    if (session !== undefined && !session.closed && !session.exited) {
      await session.terminal?.write(params.data);
    }
  }

  async stop(params: PluginLoginPtyStopParams): Promise<void> {
    const session = this.byId.get(params.workerSessionId);
    if (session !== undefined) {
      this.exit(session, null);
      this.end(session);
    }
  }

  async close(params: PluginLoginPtyCloseParams): Promise<PluginLoginPtyCloseResult> {
    const session = this.byRoute.get(params.hostRouteId);
    if (session !== undefined) {
      this.end(session);
    }
    return { hostRouteId: params.hostRouteId };
  }

  /** Ends every session of the lease (it was released). */
  endLease(leaseId: string): void {
    for (const session of [...this.byRoute.values()]) {
      if (session.leaseId === leaseId) {
        this.exit(session, null);
        this.end(session);
      }
    }
  }

  /** Ends every session (the worker shuts down). */
  endAll(): void {
    for (const session of [...this.byRoute.values()]) {
      this.exit(session, null);
      this.end(session);
    }
  }

  private async pump(session: Session, terminal: Terminal): Promise<void> {
    const decoder = new StringDecoder('utf8');
    try {
      for await (const { data } of terminal) {
        if (session.closed || session.exited) break;
        session.bytes += data.byteLength;
        if (data.byteLength > MAX_CHUNK_BYTES || session.bytes > MAX_SESSION_OUTPUT_BYTES) {
          this.exit(session, null);
          this.end(session);
          return;
        }
        const text = decoder.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        if (text.length > 0) this.events.output(session.route, session.id, text);
      }
      const status = await terminal.result;
      const rest = decoder.end();
      if (rest.length > 0 && !session.closed && !session.exited) this.events.output(session.route, session.id, rest);
      this.exit(session, status.timedOut ? null : status.exitCode);
    } catch {
      this.exit(session, null);
    }
    this.forgetSession(session);
  }

  private exit(session: Session, code: number | null): void {
    if (session.exited || session.closed) return;
    session.exited = true;
    this.events.exit(session.route, session.id, code);
  }

  private end(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    session.terminal?.cancel();
    this.forgetSession(session);
  }

  private forgetSession(session: Session): void {
    this.byRoute.delete(session.route);
    this.byId.delete(session.id);
  }
}
