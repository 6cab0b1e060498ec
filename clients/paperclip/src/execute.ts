/**
 * `environmentExecute` over leasebox `exec`: the command's output goes to
 * Paperclip's execution log as it comes (UTF-8 text, a decoder per stream
 * so a character split across chunks stays whole), and the result carries
 * all of it with the exit code, the signal's name and `timedOut`. A command
 * that fails is a result; only leasebox failing to run it is an error.
 */

import { constants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';

import type { ExecStatus, LeaseboxClient } from '@leasebox/client';
import type { PluginEnvironmentExecuteParams, PluginEnvironmentExecuteResult } from '@paperclipai/plugin-sdk';

/** Where streamed output goes: `ctx.execution.log`. */
export type ExecutionLog = (stream: 'stdout' | 'stderr', chunk: string) => void;

/** The signal named by its number (`9` → `SIGKILL`), or null. */
export function signalName(signal: number | null): string | null {
  if (signal === null) return null;
  const found = Object.entries(constants.signals).find(([, number]) => number === signal);
  return found !== undefined ? found[0] : `SIG${signal}`;
}

export interface ExecuteCall {
  client: LeaseboxClient;
  leaseId: string;
  namespace: string;
  params: PluginEnvironmentExecuteParams;
  /** The budget when the call gives none (the configuration's, from `podActivityDeadlineSec`). */
  defaultTimeoutMs: number | null;
  log: ExecutionLog;
  signal: AbortSignal;
}

/**
 * Runs the command: `command` alone is a shell line (`sh -lc`, as
 * Paperclip's Kubernetes provider ran it), `command` with `args` an argv.
 */
export async function execute(call: ExecuteCall): Promise<PluginEnvironmentExecuteResult> {
  const { params } = call;
  const argv = params.args !== undefined && params.args.length > 0 ? [params.command, ...params.args] : undefined;
  const timeoutMs = params.timeoutMs ?? call.defaultTimeoutMs ?? undefined;
  const run = call.client.executeStream({
    providerLeaseId: call.leaseId,
    namespace: call.namespace,
    ...(argv !== undefined ? { args: argv } : { command: params.command }),
    cwd: params.cwd,
    env: params.env,
    stdin: params.stdin,
    timeoutMs,
    signal: call.signal,
  });
  const text = { stdout: [] as string[], stderr: [] as string[] };
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  for await (const { stream, data } of run) {
    const chunk = decoders[stream].write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (chunk.length > 0) {
      text[stream].push(chunk);
      call.log(stream, chunk);
    }
  }
  const status = await run.result;
  for (const stream of ['stdout', 'stderr'] as const) {
    const rest = decoders[stream].end();
    if (rest.length > 0) {
      text[stream].push(rest);
      call.log(stream, rest);
    }
  }
  return resultOf(status, text.stdout.join(''), text.stderr.join(''));
}

/** The SDK's result of a finished command. */
export function resultOf(status: ExecStatus, stdout: string, stderr: string): PluginEnvironmentExecuteResult {
  return {
    exitCode: status.timedOut ? null : status.exitCode,
    signal: signalName(status.signal),
    timedOut: status.timedOut,
    stdout,
    stderr,
    metadata: {
      stdoutTruncated: status.stdoutTruncated,
      stderrTruncated: status.stderrTruncated,
      ...(status.message !== '' ? { message: status.message } : {}),
    },
  };
}
