/**
 * What a client speaks to: a `leasebox serve` child it spawned (stdio), or a
 * server already running on a Unix socket (`leasebox serve --listen unix:PATH`).
 */

import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Readable, Writable } from 'node:stream';

import { LeaseboxError } from './errors.js';

/** How the link ended: a child's exit code or signal; a socket's close (code 0, or 1 after an error). */
export interface LinkEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Link {
  /** Where requests and notifications are written. */
  readonly toServer: Writable;
  /** Where answers and notifications are read. */
  readonly fromServer: Readable;
  /** The server's log lines (a child's stderr); a socket carries none. */
  readonly logs: Readable | undefined;
  /** The child's process id; undefined for a socket. */
  readonly pid: number | undefined;
  /** Settles once the link is over. */
  readonly ended: Promise<LinkEnd>;
  /** Ends what this side sends; the server then finishes its calls and the link ends. */
  end(): void;
  /** The link in a few words, for messages: "`leasebox serve` (pid 12)", "the server at unix:/run/x.sock". */
  describe(end: LinkEnd): string;
}

/** Starts `binary serve ...args` and resolves once the process runs. */
export function spawnServer(binary: string, args: string[], env: NodeJS.ProcessEnv): Promise<Link> {
  const child = spawn(binary, ['serve', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const ended = new Promise<LinkEnd>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      reject(
        LeaseboxError.client(
          'spawn-failed',
          `cannot start \`${binary} serve\`: ${error.message}; set LEASEBOX_BIN to the leasebox binary or pass \`binary\``,
        ),
      );
    });
    child.once('spawn', () => {
      // After a successful spawn, errors (a failed kill) are reported by 'close'.
      child.on('error', () => {});
      resolve({
        toServer: child.stdin,
        fromServer: child.stdout,
        logs: child.stderr,
        pid: child.pid,
        ended,
        end: () => child.stdin.end(),
        describe: ({ code, signal }) =>
          `\`${binary} serve\` (pid ${child.pid}) ${signal !== null ? `was killed by ${signal}` : `exited with code ${code}`}`,
      });
    });
  });
}

/** Connects to a server listening on the Unix socket `path` and resolves once connected. */
export function connectServer(path: string): Promise<Link> {
  const socket = connect({ path });
  let failed: Error | undefined;
  const ended = new Promise<LinkEnd>((resolve) => {
    socket.on('close', (hadError) => resolve({ code: hadError ? 1 : 0, signal: null }));
  });
  return new Promise((resolve, reject) => {
    socket.once('error', (error) => {
      reject(
        LeaseboxError.client(
          'spawn-failed',
          `cannot connect to the server at unix:${path}: ${error.message}; start \`leasebox serve --listen unix:${path}\` or fix the path`,
        ),
      );
    });
    socket.once('connect', () => {
      socket.on('error', (error) => {
        failed = error;
      });
      resolve({
        toServer: socket,
        fromServer: socket,
        logs: undefined,
        pid: undefined,
        ended,
        end: () => socket.end(),
        describe: () =>
          `the connection to the server at unix:${path} closed${failed !== undefined ? ` (${failed.message})` : ''}`,
      });
    });
  });
}
