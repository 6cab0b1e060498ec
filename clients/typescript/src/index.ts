export {
  LeaseboxClient,
  DEFAULT_WORKSPACE_PATH,
  type AcquireOptions,
  type AcquiredLease,
  type AttachOptions,
  type Cancellable,
  type EnsurePoolOptions,
  type ExecResult,
  type ExecuteOptions,
  type KillOptions,
  type LeaseTarget,
  type PathTarget,
  type PlanOptions,
  type ProbeResult,
  type ProcessTarget,
  type RealizeOptions,
  type SpawnOptions,
  type StartProcessOptions,
  type SyncInOptions,
  type SyncOutOptions,
  type TerminalOptions,
  type WriteFileOptions,
} from './client.js';
export { ExecStream } from './exec-stream.js';
export type { LinkEnd } from './link.js';
export { Terminal } from './terminal.js';
export { LeaseboxError, ErrorCode, type ClientReason, type ErrorData } from './errors.js';
export { probeSummary } from './summary.js';
export type * from './types.js';
