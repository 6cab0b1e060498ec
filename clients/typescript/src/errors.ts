/**
 * The one error type of the client: leasebox's own failures.
 *
 * A JSON-RPC error from the server keeps its `code` and `data.reason`
 * (docs/serve.md, "Errors"). A failure the client itself detects (the
 * server could not start or exited, the client was closed, a workspace did
 * not unpack, a call was aborted before it was sent) has `code: null` and
 * one of the {@link ClientReason} reasons: `stdin-closed` is a write to a
 * terminal after its `end()`, `invalid-argument` a call the client refuses
 * before sending it (a window size that is not 1-65535).
 *
 * A command that exits non-zero is never an error: it is a result.
 */

/** JSON-RPC error codes `leasebox serve` answers with. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  PolicyRefused: -32001,
  ModuleFailed: -32002,
  NoCluster: -32003,
  ModuleRefused: -32004,
  ShuttingDown: -32005,
  LocalFiles: -32006,
  RequestCancelled: -32800,
} as const;

/** Reasons of the failures the client detects itself (`code: null`). */
export type ClientReason =
  | 'spawn-failed'
  | 'server-exited'
  | 'client-closed'
  | 'bad-message'
  | 'unpack-failed'
  | 'cancelled'
  | 'stdin-closed'
  | 'invalid-argument';

/** The `data` of an error: at least its `reason`, plus what the reason carries. */
export interface ErrorData {
  reason: string;
  [key: string]: unknown;
}

export class LeaseboxError extends Error {
  /** The JSON-RPC error code, or `null` for a failure detected by the client. */
  readonly code: number | null;
  /** `data.reason`: `no-cluster`, `invalid-config`, `cancelled`, `server-exited`, ... */
  readonly reason: string;
  /** The whole `data` object (for `failed`: `step`, `failureReason`, `rolledBack`, `leftBehind`). */
  readonly data: ErrorData;
  /** The method of the call that failed, when there was one. */
  readonly method: string | undefined;

  constructor(code: number | null, message: string, data: ErrorData, method?: string) {
    super(method === undefined ? message : `${method}: ${message}`);
    this.name = 'LeaseboxError';
    this.code = code;
    this.reason = data.reason;
    this.data = data;
    this.method = method;
  }

  /** An error the client detected itself. */
  static client(reason: ClientReason, message: string, method?: string, extra: object = {}): LeaseboxError {
    return new LeaseboxError(null, message, { ...extra, reason }, method);
  }

  /** The `error` member of a JSON-RPC answer to a call of `method`. */
  static fromRpc(error: unknown, method: string): LeaseboxError {
    if (typeof error !== 'object' || error === null) {
      return LeaseboxError.client('bad-message', `the server answered with an error that is not an object: ${JSON.stringify(error)}`, method);
    }
    const { code, message, data } = error as { code?: unknown; message?: unknown; data?: unknown };
    const dataObject =
      typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
    const reason = typeof dataObject['reason'] === 'string' ? dataObject['reason'] : 'unknown';
    return new LeaseboxError(
      typeof code === 'number' ? code : null,
      typeof message === 'string' ? message : JSON.stringify(error),
      { ...dataObject, reason },
      method,
    );
  }
}
