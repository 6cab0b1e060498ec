/**
 * The output of a running command as an async iterator, and its exit
 * status as a promise.
 *
 * ```ts
 * const run = client.executeStream({ providerLeaseId, command: 'make test' });
 * for await (const { stream, data } of run) process[stream].write(data);
 * const { exitCode, timedOut } = await run.result;
 * ```
 *
 * The iteration yields every chunk in order and ends when the command has
 * ended; if the call fails (a {@link LeaseboxError}), the iteration throws
 * it after the chunks received before. `result` resolves with the exit
 * status (a non-zero exit code is a result, not an error). Chunks are
 * buffered until read, so reading them later loses nothing; a stream is
 * iterated once.
 */

import type { LeaseboxError } from './errors.js';
import type { ExecStatus, OutputChunk } from './types.js';

export class ExecStream implements AsyncIterable<OutputChunk> {
  /** The exit status, once the command has ended. */
  readonly result: Promise<ExecStatus>;
  private readonly chunks: OutputChunk[] = [];
  private next = 0;
  private ended = false;
  private failure: LeaseboxError | undefined;
  private wake: (() => void) | undefined;
  private iterated = false;

  /** @param start runs the call, handing each output chunk to its argument */
  constructor(start: (onOutput: (chunk: OutputChunk) => void) => Promise<ExecStatus>) {
    this.result = start((chunk) => {
      this.chunks.push(chunk);
      this.wakeReader();
    });
    // Handled here, so a caller that only iterates never sees an unhandled rejection.
    this.result.then(
      () => this.end(undefined),
      (error: LeaseboxError) => this.end(error),
    );
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<OutputChunk, void, undefined> {
    if (this.iterated) {
      throw new Error('an ExecStream is iterated once; keep the chunks of the first iteration');
    }
    this.iterated = true;
    for (;;) {
      if (this.next < this.chunks.length) {
        const chunk = this.chunks[this.next] as OutputChunk;
        // Drop the reference, so a long command's output is not held twice.
        this.chunks[this.next] = undefined as unknown as OutputChunk;
        this.next += 1;
        yield chunk;
        continue;
      }
      this.chunks.length = 0;
      this.next = 0;
      if (this.ended) {
        if (this.failure !== undefined) {
          throw this.failure;
        }
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private end(failure: LeaseboxError | undefined): void {
    this.ended = true;
    this.failure = failure;
    this.wakeReader();
  }

  private wakeReader(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
