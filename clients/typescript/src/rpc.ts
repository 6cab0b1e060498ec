/**
 * JSON-RPC 2.0 over a pair of streams, one message per line
 * (docs/serve.md, "Messages"): requests with numeric ids, answers matched
 * by id in any order, `exec/output` notifications routed to the call they
 * name, `exec/stdin` / `exec/stdinEnd` for a call's input (never more
 * than the server's `exec/stdinCredit` has granted), `terminal/resize`
 * for a terminal in flight, and `$/cancelRequest` when a call's
 * AbortSignal fires.
 */

import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

import { LeaseboxError } from './errors.js';
import type { OutputChunk } from './types.js';

/** Raw bytes per `exec/stdin` notification (its line is 4/3 of it, far below the 16 MiB line limit). */
export const STDIN_CHUNK_BYTES = 1024 * 1024;

/**
 * A call's stdin: bytes queued by {@link StdinWriter.write} go out as
 * `exec/stdin` chunks no faster than the server's credit allows
 * (docs/serve.md, "Stdin credit": it grants its window when the call starts
 * and more as the command reads; a client that sends past it has the call
 * ended with `stdin-overflow`), then `exec/stdinEnd` after
 * {@link StdinWriter.end}. One writer per call, for a fixed input (`exec`,
 * `realizeWorkspace`) and an open one (`terminal.open`) alike.
 */
export class StdinWriter {
  /** Credit granted and not spent yet. */
  private credit = 0;
  private readonly queue: Array<{ bytes: Uint8Array; offset: number; done: () => void }> = [];
  private ending = false;
  /** The call is over (answered, cancelled, or its connection failed): nothing more is sent. */
  private closed = false;
  private pumping = false;
  private creditWaiters: Array<() => void> = [];

  /**
   * @param send writes one `exec/stdin` chunk; resolves false when it could not be written
   * @param sendEnd writes `exec/stdinEnd`
   */
  constructor(
    private readonly send: (chunk: Uint8Array) => Promise<boolean>,
    private readonly sendEnd: () => void,
  ) {}

  /**
   * Queues `bytes`; resolves once they are handed to the server, or once the call is over (what was not sent by
   * then is dropped: nothing would read it). Rejects with `stdin-closed` after {@link end}.
   */
  write(bytes: Uint8Array, method?: string): Promise<void> {
    if (this.ending) {
      return Promise.reject(LeaseboxError.client('stdin-closed', 'write after end(): the stdin was already ended', method));
    }
    if (this.closed) {
      return Promise.resolve();
    }
    return new Promise((done) => {
      this.queue.push({ bytes, offset: 0, done });
      void this.pump();
    });
  }

  /** Sends `exec/stdinEnd` once everything queued is sent; later writes are refused. */
  end(): void {
    if (!this.ending) {
      this.ending = true;
      void this.pump();
    }
  }

  /** `exec/stdinCredit`: `bytes` more may be sent. */
  grant(bytes: number): void {
    this.credit += bytes;
    this.wakeSender();
  }

  /** The call is over: what is queued is dropped and its writers resolved. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const piece of this.queue.splice(0)) {
      piece.done();
    }
    this.wakeSender();
  }

  /** Sends the queue in order, one chunk at a time, each within the credit; one pump runs at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      return;
    }
    this.pumping = true;
    try {
      while (!this.closed) {
        const piece = this.queue[0];
        if (piece === undefined) {
          if (this.ending) {
            this.closed = true;
            this.sendEnd();
          }
          return;
        }
        if (piece.offset >= piece.bytes.length) {
          this.queue.shift();
          piece.done();
          continue;
        }
        if (this.credit <= 0) {
          await new Promise<void>((resolve) => this.creditWaiters.push(resolve));
          continue;
        }
        const size = Math.min(STDIN_CHUNK_BYTES, this.credit, piece.bytes.length - piece.offset);
        const chunk = piece.bytes.subarray(piece.offset, piece.offset + size);
        this.credit -= size;
        piece.offset += size;
        if (!(await this.send(chunk))) {
          this.close();
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private wakeSender(): void {
    const waiters = this.creditWaiters;
    this.creditWaiters = [];
    for (const wake of waiters) {
      wake();
    }
  }
}

/** What one call may carry besides its params. */
export interface CallOptions {
  /** Aborting sends `$/cancelRequest`; the call then rejects with reason `cancelled`. */
  signal?: AbortSignal | undefined;
  /** Receives the call's `exec/output` chunks, in order per stream. */
  onOutput?: ((chunk: OutputChunk) => void) | undefined;
  /** Bytes sent as the call's stdin (`exec/stdin` chunks, then `exec/stdinEnd`). */
  stdin?: Uint8Array | undefined;
}

/** What a call started with {@link RpcConnection.start} may carry. */
export interface StartOptions {
  signal?: AbortSignal | undefined;
  onOutput?: ((chunk: OutputChunk) => void) | undefined;
  /** The call takes stdin: its {@link CallHandle.stdin} is open until ended. */
  stdin?: boolean | undefined;
}

/** A call in flight. */
export interface CallHandle<T> {
  /** The answer: the result, or a {@link LeaseboxError}. */
  readonly result: Promise<T>;
  /** The call's stdin, when it was started with `stdin: true`. */
  readonly stdin: StdinWriter | undefined;
  /** Sends `$/cancelRequest` while the call is in flight; `result` then rejects with `cancelled`. */
  cancel(): void;
  /** Sends notification `method` with `params` and the call's `id` while it is in flight; false once it is over. */
  notify(method: string, params: object): boolean;
}

interface Pending {
  method: string;
  resolve: (result: unknown) => void;
  reject: (error: LeaseboxError) => void;
  onOutput: ((chunk: OutputChunk) => void) | undefined;
  /** The call's stdin, when it takes some. */
  stdin: StdinWriter | undefined;
}

export class RpcConnection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set once the connection is over: every call from then on rejects with it. */
  private failure: LeaseboxError | undefined;

  /**
   * @param toServer where requests and notifications are written
   * @param fromServer where answers and notifications are read
   * @param onStrayLine told about a line that is no message of a call (not JSON, an unknown id)
   */
  constructor(
    private readonly toServer: Writable,
    fromServer: Readable,
    private readonly onStrayLine: (line: string, why: string) => void,
  ) {
    const lines = createInterface({ input: fromServer, crlfDelay: Infinity });
    lines.on('line', (line) => this.receive(line));
    // A write to a server that is gone fails every call; the owner says why with fail().
    toServer.on('error', () => {});
  }

  /** Number of calls waiting for their answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Calls `method` with `params`; resolves with the result, rejects with a {@link LeaseboxError}. */
  call<T>(method: string, params: object, options: CallOptions = {}): Promise<T> {
    const { signal, onOutput, stdin } = options;
    const handle = this.start<T>(method, params, { signal, onOutput, stdin: stdin !== undefined });
    if (stdin !== undefined && handle.stdin !== undefined) {
      void handle.stdin.write(stdin, method);
      handle.stdin.end();
    }
    return handle.result;
  }

  /** Starts a call of `method` and hands it back while it runs (its stdin, its cancellation, its notifications). */
  start<T>(method: string, params: object, options: StartOptions = {}): CallHandle<T> {
    const { signal, onOutput } = options;
    const refused = (error: LeaseboxError): CallHandle<T> => {
      const stdin = options.stdin ? new StdinWriter(() => Promise.resolve(false), () => {}) : undefined;
      stdin?.close();
      return { result: Promise.reject(error), stdin, cancel: () => {}, notify: () => false };
    };
    if (this.failure !== undefined) {
      return refused(forCall(this.failure, method));
    }
    if (signal?.aborted) {
      return refused(LeaseboxError.client('cancelled', 'aborted before it was sent', method));
    }
    const id = this.nextId++;
    const stdin = options.stdin
      ? new StdinWriter(
          (chunk) => this.sendStdin(id, chunk),
          () => this.notify('exec/stdinEnd', { id }),
        )
      : undefined;
    const cancel = () => {
      if (this.pending.has(id)) {
        this.notify('$/cancelRequest', { id });
        stdin?.close();
      }
    };
    const result = new Promise<T>((resolve, reject) => {
      const settle = () => {
        this.pending.delete(id);
        signal?.removeEventListener('abort', cancel);
        stdin?.close();
      };
      this.pending.set(id, {
        method,
        resolve: (answer) => {
          settle();
          resolve(answer as T);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        onOutput,
        stdin,
      });
      signal?.addEventListener('abort', cancel, { once: true });
      this.write({ jsonrpc: '2.0', id, method, params });
    });
    const notify = (notification: string, notificationParams: object) => {
      if (!this.pending.has(id) || this.failure !== undefined) {
        return false;
      }
      this.notify(notification, { ...notificationParams, id });
      return true;
    };
    return { result, stdin, cancel, notify };
  }

  /** Sends notification `method` (no answer comes). */
  notify(method: string, params: object): void {
    if (this.failure === undefined) {
      this.write({ jsonrpc: '2.0', method, params });
    }
  }

  /** Ends the connection: calls in flight and every later call reject with `error`. */
  fail(error: LeaseboxError): void {
    if (this.failure === undefined) {
      this.failure = error;
    }
    for (const call of [...this.pending.values()]) {
      call.reject(forCall(error, call.method));
    }
  }

  /** Refuses new calls with `error`; the calls in flight still get their answers. */
  refuseNewCalls(error: LeaseboxError): void {
    if (this.failure === undefined) {
      this.failure = error;
    }
  }

  /**
   * One `exec/stdin` chunk of call `id`; resolves once it is handed to the server (false when the call is over or
   * it could not be written), so that a writer never queues more than a chunk in the pipe.
   */
  private sendStdin(id: number, chunk: Uint8Array): Promise<boolean> {
    if (!this.pending.has(id) || this.failure !== undefined) {
      return Promise.resolve(false);
    }
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('base64');
    return this.writeAndWait({ jsonrpc: '2.0', method: 'exec/stdin', params: { id, data } });
  }

  private write(message: object): void {
    this.toServer.write(JSON.stringify(message) + '\n');
  }

  /** Writes `message`; resolves once it is handed to the server (false when it could not be). */
  private writeAndWait(message: object): Promise<boolean> {
    return new Promise((resolve) => {
      this.toServer.write(JSON.stringify(message) + '\n', (error) => resolve(error == null));
    });
  }

  private receive(line: string): void {
    if (line.trim() === '') {
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (error) {
      this.onStrayLine(line, `not JSON (${(error as Error).message})`);
      return;
    }
    if (typeof message !== 'object' || message === null) {
      this.onStrayLine(line, 'not a JSON object');
      return;
    }
    const { id, method, params, result, error } = message as Record<string, unknown>;
    if (method === 'exec/output') {
      this.output(line, params);
      return;
    }
    if (method === 'exec/stdinCredit') {
      this.stdinCredit(line, params);
      return;
    }
    const call = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (call === undefined) {
      this.onStrayLine(line, 'no call in flight has its id');
      return;
    }
    if (error !== undefined) {
      call.reject(LeaseboxError.fromRpc(error, call.method));
    } else {
      call.resolve(result);
    }
  }

  private stdinCredit(line: string, params: unknown): void {
    const { id, bytes } = (params ?? {}) as Record<string, unknown>;
    if (typeof id !== 'number' || typeof bytes !== 'number' || !(bytes > 0)) {
      this.onStrayLine(line, 'stdin credit without a numeric id and bytes');
      return;
    }
    // Credit may come after the call's answer (the command's stdin is read on its own thread): nothing to do.
    this.pending.get(id)?.stdin?.grant(bytes);
  }

  private output(line: string, params: unknown): void {
    const { id, stream, data } = (params ?? {}) as Record<string, unknown>;
    const call = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (call === undefined || (stream !== 'stdout' && stream !== 'stderr') || typeof data !== 'string') {
      this.onStrayLine(line, 'output for no call in flight, or without stream and data');
      return;
    }
    call.onOutput?.({ stream, data: Buffer.from(data, 'base64') });
  }
}

/** `error` (a failure of the whole connection) as the error of a call of `method`. */
function forCall(error: LeaseboxError, method: string): LeaseboxError {
  return new LeaseboxError(error.code, error.message, error.data, method);
}
