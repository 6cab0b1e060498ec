/**
 * JSON-RPC 2.0 over a pair of streams, one message per line
 * (docs/serve.md, "Messages"): requests with numeric ids, answers matched
 * by id in any order, `exec/output` notifications routed to the call they
 * name, `exec/stdin` / `exec/stdinEnd` for a call's input (never more
 * than the server's `exec/stdinCredit` has granted), and
 * `$/cancelRequest` when a call's AbortSignal fires.
 */

import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

import { LeaseboxError } from './errors.js';
import type { OutputChunk } from './types.js';

/** Raw bytes per `exec/stdin` notification (its line is 4/3 of it, far below the 16 MiB line limit). */
export const STDIN_CHUNK_BYTES = 1024 * 1024;

/**
 * What the server has granted of a call's stdin and the client has not sent
 * yet (docs/serve.md, "Stdin credit"): the server grants its window when the
 * call starts and more as the command reads; a client that sends past it has
 * the call ended with `stdin-overflow`.
 */
class StdinCredit {
  private available = 0;
  private ended = false;
  private waiters: Array<() => void> = [];

  /** Bytes that may be sent now. */
  get bytes(): number {
    return this.available;
  }

  /** `exec/stdinCredit`: `bytes` more may be sent. */
  grant(bytes: number): void {
    this.available += bytes;
    this.wake();
  }

  /** `bytes` are being sent. */
  spend(bytes: number): void {
    this.available -= bytes;
  }

  /** The call is over: nobody waits for credit any more. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Resolves at the next grant, or at once when the call is over. */
  more(): Promise<void> {
    if (this.ended) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
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

interface Pending {
  method: string;
  resolve: (result: unknown) => void;
  reject: (error: LeaseboxError) => void;
  onOutput: ((chunk: OutputChunk) => void) | undefined;
  /** The call's stdin credit, when it sends stdin. */
  credit: StdinCredit | undefined;
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
    if (this.failure !== undefined) {
      return Promise.reject(forCall(this.failure, method));
    }
    const { signal, onOutput, stdin } = options;
    if (signal?.aborted) {
      return Promise.reject(LeaseboxError.client('cancelled', 'aborted before it was sent', method));
    }
    const id = this.nextId++;
    const credit = stdin === undefined ? undefined : new StdinCredit();
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.notify('$/cancelRequest', { id });
        credit?.end();
      };
      const settle = () => {
        this.pending.delete(id);
        signal?.removeEventListener('abort', onAbort);
        credit?.end();
      };
      this.pending.set(id, {
        method,
        resolve: (result) => {
          settle();
          resolve(result as T);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        onOutput,
        credit,
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.write({ jsonrpc: '2.0', id, method, params });
      if (stdin !== undefined && credit !== undefined) {
        void this.sendStdin(id, stdin, credit, signal);
      }
    });
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
   * `bytes` as `exec/stdin` chunks of call `id`, then `exec/stdinEnd`; each chunk waits for the previous to be
   * written and for the server's credit, so the server never holds more than its window of this call's stdin.
   */
  private async sendStdin(
    id: number,
    bytes: Uint8Array,
    credit: StdinCredit,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const stillWanted = () => this.pending.has(id) && !signal?.aborted && this.failure === undefined;
    let offset = 0;
    while (offset < bytes.length) {
      if (!stillWanted()) {
        return;
      }
      if (credit.bytes <= 0) {
        await credit.more();
        continue;
      }
      const size = Math.min(STDIN_CHUNK_BYTES, credit.bytes, bytes.length - offset);
      const chunk = bytes.subarray(offset, offset + size);
      credit.spend(size);
      offset += size;
      const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('base64');
      const written = await this.writeAndWait({ jsonrpc: '2.0', method: 'exec/stdin', params: { id, data } });
      if (!written) {
        return;
      }
    }
    if (stillWanted()) {
      this.write({ jsonrpc: '2.0', method: 'exec/stdinEnd', params: { id } });
    }
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
    this.pending.get(id)?.credit?.grant(bytes);
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
