/**
 * The records `leasebox serve` sends, as it sends them (camelCase keys);
 * docs/serve.md has the table of methods and results.
 */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A configuration: an object, or its JSON text. */
export type Config = { [key: string]: Json } | string;

/** One problem of a configuration; `path` names the field (`backend`, `workspace.type`). */
export interface Issue {
  path: string;
  message: string;
}

/** The answer of `validate`. */
export interface ValidationReport {
  ok: boolean;
  errors: Issue[];
  warnings: Issue[];
  /** The configuration with its defaults filled in; `null` when it is invalid. */
  normalizedConfig: { [key: string]: Json } | null;
}

/** One check of `probe`. */
export interface ProbeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** The answer of `probe`. */
export interface ProbeReport {
  ok: boolean;
  checks: ProbeCheck[];
}

/** A Kubernetes object a lease is made of. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

/** The lease record (`acquire`, `renew`, `list`, `status`). */
export interface Lease {
  id: string;
  namespace: string;
  backend: 'sandbox-cr' | 'job' | 'pod';
  pod: string;
  container: string;
  secret: string;
  workload: ObjectRef;
  companyId: string;
  runId: string;
  adapterType: string;
  image: string;
  createdAt: string;
  expiresAt: string;
  moduleSha256: string;
}

/** How a command ended (`exec`, `realizeWorkspace`). */
export interface ExecStatus {
  /** The process's exit code, or 128+N after signal N; `null` when it timed out or no status arrived. */
  exitCode: number | null;
  /** The number of the signal that ended it, when one did. */
  signal: number | null;
  timedOut: boolean;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** leasebox's note on the outcome (empty when there is none). */
  message: string;
}

/** The answer of `release`. */
export interface ReleaseReport {
  deleted: ObjectRef[];
  /** True when the lease was already gone: releasing twice is not an error. */
  alreadyGone: boolean;
}

/** The answer of `status`. */
export interface LeaseStatus {
  phase: 'pending' | 'ready' | 'finished' | 'failed' | 'terminating';
  ready: boolean;
  message: string;
  lease: Lease;
}

/** The answer of `sweep`. */
export interface SweepReport {
  expired: ObjectRef[];
  kept: number;
}

/** The module a server runs (`policy.info`, `policy.reload`). */
export interface PolicyInfo {
  /** `default` for the built-in module, else the file. */
  source: string;
  sha256: string;
  contract: string;
  sizeBytes: number;
  /** The file watched for changes, if any. */
  watched: string | null;
}

/** The answer of `health`. */
export interface Health {
  ok: boolean;
  module: PolicyInfo;
  /** `configured` or `none`. */
  cluster: 'configured' | 'none';
  swaps: number;
  refusedModules: number;
  guardDenials: { [key: string]: number };
}

/** The answer of `plan`. */
export interface Plan {
  manifests: { [key: string]: Json }[];
}

/** One chunk of a command's output. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

/** One line the server logged on its stderr. */
export interface LogEntry {
  level: string;
  context: string;
  message: string;
}
