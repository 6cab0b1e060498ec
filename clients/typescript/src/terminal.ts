/**
 * A terminal in a lease (`terminal.open`): its input, its window size, its
 * output as an async iterator, and its exit status as a promise.
 *
 * ```ts
 * const terminal = client.openTerminal({ providerLeaseId, rows: 24, cols: 80 });
 * process.stdin.on('data', (data) => void terminal.write(data));
 * process.stdout.on('resize', () => terminal.resize(process.stdout.rows, process.stdout.columns));
 * for await (const { data } of terminal) process.stdout.write(data);
 * const { exitCode } = await terminal.result;
 * ```
 *
 * Input is sent no faster than the server's stdin credit allows (the same
 * {@link StdinWriter} as an `exec`'s stdin). A terminal merges stderr into
 * stdout, so every chunk is on `stdout`. The output is an {@link ExecStream}:
 * buffered until read, iterated once, throwing the call's error at its end
 * if the call failed.
 */

import { LeaseboxError } from './errors.js';
import { ExecStream } from './exec-stream.js';
import type { CallHandle, StdinWriter } from './rpc.js';
import type { ExecStatus, OutputChunk } from './types.js';

/** The largest window size `terminal/resize` carries (the server's `u16`). */
const MAX_WINDOW = 65535;

export class Terminal implements AsyncIterable<OutputChunk> {
  /** The exit status, once the terminal's program has ended. */
  readonly result: Promise<ExecStatus>;
  private readonly output: ExecStream;
  private readonly call: CallHandle<ExecStatus>;

  /** @param start starts `terminal.open` (with stdin), handing each output chunk to its argument */
  constructor(start: (onOutput: (chunk: OutputChunk) => void) => CallHandle<ExecStatus>) {
    let started: CallHandle<ExecStatus> | undefined;
    this.output = new ExecStream((onOutput) => {
      started = start(onOutput);
      return started.result;
    });
    // ExecStream runs its start function in its constructor: the call exists now.
    this.call = started as CallHandle<ExecStatus>;
    this.result = this.output.result;
  }

  /**
   * Sends `data` (a string as UTF-8) to the terminal's input. Resolves once it is handed to the server (or the
   * terminal has ended: then it is dropped); rejects with `stdin-closed` after {@link end}.
   */
  write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.stdin().write(bytes, 'terminal.open');
  }

  /**
   * Tells the terminal its window is now `rows` x `cols` (`terminal/resize`). Returns false when the terminal has
   * already ended (nothing is sent). Throws `invalid-argument` when a size is not an integer from 1 to 65535.
   */
  resize(rows: number, cols: number): boolean {
    for (const [name, value] of [
      ['rows', rows],
      ['cols', cols],
    ] as const) {
      if (!Number.isInteger(value) || value < 1 || value > MAX_WINDOW) {
        throw LeaseboxError.client(
          'invalid-argument',
          `${name} must be an integer from 1 to ${MAX_WINDOW}, got ${value}`,
          'terminal/resize',
        );
      }
    }
    return this.call.notify('terminal/resize', { rows, cols });
  }

  /** Ends the terminal's input (`exec/stdinEnd`, after what was written); the program reads end-of-file. */
  end(): void {
    this.stdin().end();
  }

  /** Ends the terminal and its process tree (`$/cancelRequest`); `result` then rejects with `cancelled`. */
  cancel(): void {
    this.call.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<OutputChunk> {
    return this.output[Symbol.asyncIterator]();
  }

  private stdin(): StdinWriter {
    // Started with `stdin: true`: a terminal's input is always open.
    return this.call.stdin as StdinWriter;
  }
}
