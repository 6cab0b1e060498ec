/**
 * The environment driver: each hook of the SDK over `leasebox serve`.
 *
 * The environment's config is the policy configuration (mapped from a
 * Kubernetes-provider config when it is one); the cluster and the host
 * settings are the operator's (`settings.ts`). A call about a lease is made
 * only for the company the lease belongs to (`leases.ts`).
 */

import { LeaseboxError, DEFAULT_WORKSPACE_PATH, type Config, type Lease, type LeaseboxClient } from '@leasebox/client';
import type {
  PluginContext,
  PluginEnvironmentAcquireLeaseParams,
  PluginEnvironmentDestroyLeaseParams,
  PluginEnvironmentDiagnostic,
  PluginEnvironmentExecuteParams,
  PluginEnvironmentExecuteResult,
  PluginEnvironmentLease,
  PluginEnvironmentProbeParams,
  PluginEnvironmentProbeResult,
  PluginEnvironmentRealizeWorkspaceParams,
  PluginEnvironmentRealizeWorkspaceResult,
  PluginEnvironmentReleaseLeaseParams,
  PluginEnvironmentResumeLeaseParams,
  PluginEnvironmentSyncInParams,
  PluginEnvironmentSyncOutParams,
  PluginEnvironmentSyncResult,
  PluginEnvironmentTerminationReceipt,
  PluginEnvironmentValidateConfigParams,
  PluginEnvironmentValidationResult,
} from '@paperclipai/plugin-sdk';
import type {
  PluginLoginPtyCloseParams,
  PluginLoginPtyCloseResult,
  PluginLoginPtyInputParams,
  PluginLoginPtyOpenParams,
  PluginLoginPtyOpenResult,
  PluginLoginPtyStopParams,
} from '@paperclipai/plugin-sdk/protocol';

import { DEFAULT_ADAPTER_TYPE, mapEnvironmentConfig, type MappedConfig } from './config-mapping.js';
import { deadlineOf, endsBy, secondsUntil } from './expiry.js';
import { execute } from './execute.js';
import { LeaseRegistry, UnknownLease, type Caller, type KnownLease } from './leases.js';
import { LoginPtySessions } from './login-pty.js';
import { LeaseboxServer } from './serve.js';
import { operatorSettings } from './settings.js';
import { syncIn, syncOut } from './sync.js';
import schema from './leasebox-config.schema.json' with { type: 'json' };

/**
 * The driver keys (an environment's `provider`): leasebox's own, and
 * `kubernetes`, the key of Paperclip's own Kubernetes provider, so that an
 * environment written for that provider works unchanged once this plugin
 * replaces it. The hooks are the same under both.
 */
export const DRIVER_KEYS = ['leasebox', 'kubernetes'] as const;

/** leasebox's own bound of a lease's life when the configuration sets none: the schema's default, not restated. */
const DEFAULT_LEASE_MAX_AGE_SEC: number = schema.properties.leaseMaxAgeSec.default;

/**
 * How long a released lease may take to be gone before the release says it
 * is not confirmed (the host keeps the lease and calls again). Below the
 * Paperclip server's default 30 s per call, so the host gets this answer
 * rather than a timeout.
 */
const GONE_WAIT_MS = 25_000;
/** How long a resumed lease that is still starting is waited for (also below the host's 30 s). */
const RESUME_READY_WAIT_MS = 20_000;
const POLL_MS = 500;

export class LeaseboxProvider {
  readonly server: LeaseboxServer;
  private readonly leases = new LeaseRegistry();
  private readonly loginPty: LoginPtySessions;
  /** The calls in flight of each lease: what `cancelActiveWork` aborts and a release waits for. */
  private readonly active = new Map<string, Set<{ controller: AbortController; done: Promise<unknown> }>>();

  constructor(private readonly ctx: PluginContext) {
    this.server = new LeaseboxServer(async () => operatorSettings(await ctx.config.get(), process.env), ctx.logger);
    this.loginPty = new LoginPtySessions(this.leases, ctx.loginPty);
  }

  async validateConfig(params: PluginEnvironmentValidateConfigParams): Promise<PluginEnvironmentValidationResult> {
    const mapped = mapEnvironmentConfig(params.config);
    const client = await this.server.client();
    const report = await client.validateConfig(forLeasebox(mapped.config));
    const errors = [...mapped.errors, ...report.errors.map((issue) => `${issue.path}: ${issue.message}`)];
    const warnings = [...mapped.warnings, ...report.warnings.map((issue) => `${issue.path}: ${issue.message}`)];
    return {
      ok: errors.length === 0,
      ...(warnings.length > 0 ? { warnings } : {}),
      // The configuration as given: it is mapped again on every call, so what a
      // Kubernetes-provider `adapters[]` allows (no leasebox field holds it) is kept.
      ...(errors.length > 0 ? { errors } : { normalizedConfig: params.config }),
    };
  }

  async probe(params: PluginEnvironmentProbeParams): Promise<PluginEnvironmentProbeResult> {
    const mapped = mapEnvironmentConfig(params.config);
    const diagnostics: PluginEnvironmentDiagnostic[] = [
      ...mapped.errors.map((message) => ({ severity: 'error' as const, message, code: 'config' })),
      ...mapped.warnings.map((message) => ({ severity: 'warning' as const, message, code: 'config' })),
    ];
    if (mapped.errors.length > 0) {
      return { ok: false, summary: 'the configuration cannot be used: see the errors', diagnostics };
    }
    const client = await this.server.client();
    try {
      const probe = await client.probe(forLeasebox(mapped.config), { companyId: params.companyId });
      for (const check of probe.metadata.checks) {
        diagnostics.push({ severity: check.ok ? 'info' : 'error', message: `${check.name}: ${check.detail}`, code: check.name });
      }
      return { ok: probe.ok, summary: probe.summary, diagnostics, metadata: { checks: probe.metadata.checks } };
    } catch (error) {
      if (error instanceof LeaseboxError) {
        diagnostics.push({ severity: 'error', message: error.message, code: error.reason });
        const what = error.reason === 'no-cluster' ? 'leasebox cannot reach the cluster' : 'leasebox could not probe';
        return { ok: false, summary: `${what}: ${error.message}`, diagnostics };
      }
      throw error;
    }
  }

  async acquireLease(params: PluginEnvironmentAcquireLeaseParams): Promise<PluginEnvironmentLease> {
    const mapped = usable(mapEnvironmentConfig(params.config), 'acquireLease');
    const adapterType = params.adapterType ?? stringField(mapped.config, 'adapterType') ?? DEFAULT_ADAPTER_TYPE;
    if (mapped.allowedAdapters !== null && !mapped.allowedAdapters.includes(adapterType)) {
      throw new Error(
        `acquireLease: adapter \`${adapterType}\` is not enabled in this environment's adapters[] (enabled: ${mapped.allowedAdapters.join(', ') || 'none'}); enable it there`,
      );
    }
    const deadline = deadlineOf(params.requestedExpiresAt, new Date(), mapped.config['leaseMaxAgeSec'], DEFAULT_LEASE_MAX_AGE_SEC);
    if (deadline.kind === 'unmeetable') {
      throw new Error(`acquireLease: ${deadline.reason}; nothing was acquired`);
    }
    const config = deadline.kind === 'at' ? { ...mapped.config, leaseMaxAgeSec: deadline.maxAgeSeconds } : mapped.config;
    const client = await this.server.client();
    const acquired = await client.acquireLease({
      config: forLeasebox(config),
      companyId: params.companyId,
      runId: params.runId,
      adapterType,
    });
    let lease = acquired.metadata;
    if (deadline.kind === 'at' && !endsBy(lease.expiresAt, deadline.at)) {
      lease = await this.boundOrRelease(client, lease, deadline.at);
    }
    this.leases.remember(lease, callerOf(params));
    return { providerLeaseId: lease.id, metadata: leaseMetadata(lease), expiresAt: lease.expiresAt };
  }

  async resumeLease(params: PluginEnvironmentResumeLeaseParams): Promise<PluginEnvironmentLease> {
    const client = await this.server.client();
    const gone = (reason: string): PluginEnvironmentLease => {
      this.leases.forget(params.providerLeaseId);
      return { providerLeaseId: null, metadata: { expired: true, reason } };
    };
    const deadline = Date.now() + RESUME_READY_WAIT_MS;
    for (;;) {
      let status;
      try {
        status = await client.leaseStatus({ providerLeaseId: params.providerLeaseId });
      } catch (error) {
        if (error instanceof LeaseboxError && error.reason === 'lease-not-found') {
          return gone(`lease ${params.providerLeaseId} is gone (released, expired or never made)`);
        }
        throw error;
      }
      const { lease } = status;
      if (lease.companyId !== params.companyId) {
        return gone(`lease ${params.providerLeaseId} is not a lease of company ${params.companyId}`);
      }
      if (!(Date.parse(lease.expiresAt) > Date.now())) {
        return gone(`lease ${lease.id} expired at ${lease.expiresAt}`);
      }
      if (status.phase === 'ready') {
        this.leases.remember(lease, callerOf(params));
        return { providerLeaseId: lease.id, metadata: leaseMetadata(lease), expiresAt: lease.expiresAt };
      }
      if (status.phase !== 'pending') {
        return gone(`lease ${lease.id} is ${status.phase}${status.message ? `: ${status.message}` : ''}; its sandbox cannot run commands again`);
      }
      if (Date.now() >= deadline) {
        throw new Error(`resumeLease: lease ${lease.id} is still starting after ${RESUME_READY_WAIT_MS / 1000} s: ${status.message}`);
      }
      await sleep(POLL_MS);
    }
  }

  async realizeWorkspace(params: PluginEnvironmentRealizeWorkspaceParams): Promise<PluginEnvironmentRealizeWorkspaceResult> {
    const leaseId = leaseIdOf(params.lease, 'realizeWorkspace');
    const cwd = params.workspace.remotePath ?? DEFAULT_WORKSPACE_PATH;
    if (!cwd.startsWith('/')) {
      throw new Error(`realizeWorkspace: workspace.remotePath \`${cwd}\` must be an absolute path in the sandbox`);
    }
    return this.tracked(leaseId, params, async (client, lease, signal) => {
      // No bytes move here (the syncs move them); the directory is made so commands can run in it.
      await client.realizeWorkspace({ providerLeaseId: lease.id, namespace: lease.namespace, path: cwd, signal });
      return { cwd, metadata: { remoteCwd: cwd } };
    });
  }

  async execute(params: PluginEnvironmentExecuteParams): Promise<PluginEnvironmentExecuteResult> {
    const leaseId = leaseIdOf(params.lease, 'execute');
    const mapped = mapEnvironmentConfig(params.config);
    return this.tracked(leaseId, params, (client, lease, signal) =>
      execute({
        client,
        leaseId: lease.id,
        namespace: lease.namespace,
        params,
        defaultTimeoutMs: mapped.defaultExecTimeoutMs,
        log: (stream, chunk) => this.ctx.execution.log(stream, chunk),
        signal,
      }),
    );
  }

  async syncIn(params: PluginEnvironmentSyncInParams): Promise<PluginEnvironmentSyncResult> {
    const leaseId = leaseIdOf(params.lease, 'syncIn');
    return this.tracked(leaseId, params, (client, lease, signal) =>
      syncIn({ client, leaseId: lease.id, namespace: lease.namespace, operations: params.operations, workspace: workspaceOf(params.lease), signal }),
    );
  }

  async syncOut(params: PluginEnvironmentSyncOutParams): Promise<PluginEnvironmentSyncResult> {
    const leaseId = leaseIdOf(params.lease, 'syncOut');
    return this.tracked(leaseId, params, (client, lease, signal) =>
      syncOut({ client, leaseId: lease.id, namespace: lease.namespace, operations: params.operations, workspace: workspaceOf(params.lease), signal }),
    );
  }

  /**
   * Deletes the lease and answers a receipt once leasebox reports it gone
   * (its workload deleted, a Pod's containers ended); throws when that is
   * not confirmed in time, so the host keeps the lease and retries. With
   * `cancelActiveWork` the lease's calls in flight are cancelled first;
   * without it they are waited for.
   */
  async releaseLease(params: PluginEnvironmentReleaseLeaseParams): Promise<PluginEnvironmentTerminationReceipt | void> {
    if (params.providerLeaseId === null) {
      return;
    }
    const leaseId = params.providerLeaseId;
    const client = await this.server.client();
    let lease: KnownLease;
    try {
      lease = await this.leases.owned(client, callerOf(params), leaseId);
    } catch (error) {
      if (error instanceof UnknownLease && error.gone) {
        // Released before (destroy is idempotent), expired and swept, or never made.
        this.leases.forget(leaseId);
        return { providerLeaseId: leaseId, state: 'destroyed' };
      }
      throw error;
    }
    await this.endActiveWork(leaseId, params.cancelActiveWork === true);
    this.loginPty.endLease(leaseId);
    await client.releaseLease({ providerLeaseId: leaseId, namespace: lease.namespace });
    await this.waitGone(client, leaseId);
    this.leases.forget(leaseId);
    return { providerLeaseId: leaseId, state: 'destroyed' };
  }

  /** As {@link releaseLease} with `cancelActiveWork`: forced, and a lease already gone is a receipt. */
  async destroyLease(params: PluginEnvironmentDestroyLeaseParams): Promise<PluginEnvironmentTerminationReceipt | void> {
    return this.releaseLease({ ...params, cancelActiveWork: true });
  }

  async loginPtyOpen(params: PluginLoginPtyOpenParams): Promise<PluginLoginPtyOpenResult> {
    return this.loginPty.open(await this.server.client(), params, DRIVER_KEYS);
  }

  loginPtyInput(params: PluginLoginPtyInputParams): Promise<void> {
    return this.loginPty.input(params);
  }

  loginPtyStop(params: PluginLoginPtyStopParams): Promise<void> {
    return this.loginPty.stop(params);
  }

  loginPtyClose(params: PluginLoginPtyCloseParams): Promise<PluginLoginPtyCloseResult> {
    return this.loginPty.close(params);
  }

  /** Ends the login terminals and the server (the worker shuts down). */
  async shutdown(): Promise<void> {
    this.loginPty.endAll();
    await this.server.stop();
  }

  /** Runs `work` on the lease (checked to be the caller's company's) as a call `cancelActiveWork` can cancel. */
  private async tracked<T>(
    leaseId: string,
    caller: { companyId: string; environmentId: string },
    work: (client: LeaseboxClient, lease: KnownLease, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const client = await this.server.client();
    const lease = await this.leases.owned(client, caller, leaseId);
    const controller = new AbortController();
    const done = work(client, lease, controller.signal);
    const entry = { controller, done };
    const calls = this.active.get(leaseId) ?? new Set();
    this.active.set(leaseId, calls);
    calls.add(entry);
    try {
      return await done;
    } finally {
      calls.delete(entry);
      if (calls.size === 0) this.active.delete(leaseId);
    }
  }

  private async endActiveWork(leaseId: string, cancel: boolean): Promise<void> {
    const calls = [...(this.active.get(leaseId) ?? [])];
    if (cancel) {
      for (const call of calls) call.controller.abort();
    }
    await Promise.allSettled(calls.map((call) => call.done));
  }

  /** Waits until `status` no longer finds the lease; throws when it is still there after {@link GONE_WAIT_MS}. */
  private async waitGone(client: LeaseboxClient, leaseId: string): Promise<void> {
    const deadline = Date.now() + GONE_WAIT_MS;
    for (;;) {
      try {
        const status = await client.leaseStatus({ providerLeaseId: leaseId });
        if (Date.now() >= deadline) {
          throw new Error(
            `releaseLease: lease ${leaseId} was deleted but is still ${status.phase} after ${GONE_WAIT_MS / 1000} s; not confirmed gone (call again)`,
          );
        }
      } catch (error) {
        if (error instanceof LeaseboxError && error.reason === 'lease-not-found') return;
        throw error;
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * Moves the lease's deadline to fall at or before `at` (`renew` at an
   * explicit now); a lease that still ends later is released and the
   * acquire fails closed.
   */
  private async boundOrRelease(client: LeaseboxClient, lease: Lease, at: Date): Promise<Lease> {
    try {
      const now = new Date();
      const renewed = await client.renewLease({
        providerLeaseId: lease.id,
        namespace: lease.namespace,
        ttlSeconds: secondsUntil(at, now),
        now: now.toISOString(),
      });
      if (endsBy(renewed.metadata.expiresAt, at)) {
        return renewed.metadata;
      }
      throw new Error(`its deadline is ${renewed.metadata.expiresAt}`);
    } catch (error) {
      await client.releaseLease({ providerLeaseId: lease.id, namespace: lease.namespace }).catch(() => undefined);
      throw new Error(
        `acquireLease: the lease could not be bounded by requestedExpiresAt ${at.toISOString()} (${error instanceof Error ? error.message : String(error)}); it was released`,
      );
    }
  }
}

/**
 * The configuration as leasebox takes it. leasebox's module asks a
 * configuration to name a connection (`inCluster` or `kubeconfig`) for the
 * CLI's use; its host never uses either (README, Security model), and under
 * this plugin the operator's settings pick the cluster. A configuration that
 * names none (one written for this plugin need not) gets `inCluster: true`,
 * which changes nothing but that check.
 */
function forLeasebox(config: Record<string, unknown>): Config {
  if (config['inCluster'] === undefined && config['kubeconfig'] === undefined) {
    return { ...config, inCluster: true } as Config;
  }
  return config as Config;
}

/** The mapped configuration, or an error listing what makes it unusable. */
function usable(mapped: MappedConfig, hook: string): MappedConfig {
  if (mapped.errors.length > 0) {
    throw new Error(`${hook}: the environment's configuration cannot be used: ${mapped.errors.join('; ')}`);
  }
  return mapped;
}

function callerOf(params: { companyId: string; environmentId: string }): Caller {
  return { companyId: params.companyId, environmentId: params.environmentId };
}

function leaseIdOf(lease: PluginEnvironmentLease, hook: string): string {
  if (lease.providerLeaseId === null || lease.providerLeaseId === '') {
    throw new Error(`${hook}: lease.providerLeaseId is null: acquire or resume the lease first`);
  }
  return lease.providerLeaseId;
}

/** The realized workspace of the lease (`metadata.remoteCwd`), else leasebox's default. */
function workspaceOf(lease: PluginEnvironmentLease): string {
  const remote = lease.metadata?.['remoteCwd'];
  return typeof remote === 'string' && remote.startsWith('/') ? remote : DEFAULT_WORKSPACE_PATH;
}

function stringField(config: Record<string, unknown>, key: string): string | undefined {
  const value = config[key];
  return typeof value === 'string' ? value : undefined;
}

/** What Paperclip keeps of a lease (and hands back as `lease.metadata`): where it runs; never a secret. */
function leaseMetadata(lease: Lease): Record<string, unknown> {
  return {
    namespace: lease.namespace,
    backend: lease.backend,
    pod: lease.pod,
    container: lease.container,
    workload: `${lease.workload.kind}/${lease.workload.name}`,
    secretName: lease.secret,
    adapterType: lease.adapterType,
    image: lease.image,
    createdAt: lease.createdAt,
    expiresAt: lease.expiresAt,
    moduleSha256: lease.moduleSha256,
    remoteCwd: DEFAULT_WORKSPACE_PATH,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
