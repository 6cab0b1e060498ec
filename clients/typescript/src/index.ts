export {
  LeaseboxClient,
  DEFAULT_WORKSPACE_PATH,
  type AcquireOptions,
  type AcquiredLease,
  type Cancellable,
  type ExecResult,
  type ExecuteOptions,
  type LeaseTarget,
  type PlanOptions,
  type ProbeResult,
  type RealizeOptions,
  type SpawnOptions,
} from './client.js';
export { ExecStream } from './exec-stream.js';
export { LeaseboxError, ErrorCode, type ClientReason, type ErrorData } from './errors.js';
export { probeSummary } from './summary.js';
export type * from './types.js';
