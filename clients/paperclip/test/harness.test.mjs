// The driver in the SDK's own test harness (`createEnvironmentTestHarness`),
// against this build's leasebox binary. Without a cluster: validation
// (errors named by path, warnings), probe's no-cluster diagnostic, the
// Kubernetes-provider configuration mapped, acquire refusals that happen
// before the cluster is asked. With LEASEBOX_E2E_KUBECONFIG: a lease's life
// checked by the harness's lifecycle assertions.
//
// Needs LEASEBOX_BIN (the leasebox binary).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import {
  assertEnvironmentError,
  assertExecutionLifecycle,
  assertLeaseLifecycle,
  assertWorkspaceRealizationLifecycle,
  createEnvironmentTestHarness,
} from '@paperclipai/plugin-sdk/testing';

import manifest from '../dist/manifest.js';
import { LeaseboxProvider } from '../dist/provider.js';

const binary = process.env.LEASEBOX_BIN;
if (!binary) {
  throw new Error('LEASEBOX_BIN is not set: set it to the leasebox binary, e.g. LEASEBOX_BIN=target/debug/leasebox npm test');
}
const repository = fileURLToPath(new URL('../../../', import.meta.url));

/** The harness over a provider made with the harness's own context, the operator's settings as its instance config. */
function harnessWith(instanceConfig) {
  let provider;
  const driver = manifest.environmentDrivers[0];
  const harness = createEnvironmentTestHarness({
    manifest,
    config: instanceConfig,
    environmentDriver: {
      driverKey: driver.driverKey,
      onValidateConfig: (params) => provider.validateConfig(params),
      onProbe: (params) => provider.probe(params),
      onAcquireLease: (params) => provider.acquireLease(params),
      onResumeLease: (params) => provider.resumeLease(params),
      onReleaseLease: (params) => provider.releaseLease(params),
      onDestroyLease: (params) => provider.destroyLease(params),
      onRealizeWorkspace: (params) => provider.realizeWorkspace(params),
      onExecute: (params) => provider.execute(params),
    },
  });
  provider = new LeaseboxProvider(harness.ctx);
  return { harness, provider, driverKey: driver.driverKey };
}

/** A kubeconfig that does not exist: leasebox serves without a cluster. */
const OFFLINE = { leaseboxBin: binary, kubeconfig: '/nonexistent/leasebox-paperclip-test/kubeconfig' };

describe('without a cluster', () => {
  const { harness, provider, driverKey } = harnessWith(OFFLINE);
  const base = { driverKey, companyId: 'acme', environmentId: 'env-1' };
  after(() => provider.shutdown());

  test('validate: a leasebox configuration is ok and comes back as given', async () => {
    const config = { backend: 'pod', adapterType: 'codex_local' };
    const result = await harness.validateConfig({ driverKey, config });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(result.normalizedConfig, config);
  });

  test('validate: each error is a string naming its field', async () => {
    const result = await harness.validateConfig({ driverKey, config: { backend: 'vm', podReadyTimeoutSec: -1 } });
    assert.equal(result.ok, false);
    assert.ok(result.errors.some((error) => error.startsWith('backend: ')), JSON.stringify(result.errors));
    assert.ok(result.errors.some((error) => error.startsWith('podReadyTimeoutSec: ')), JSON.stringify(result.errors));
    assert.equal(result.normalizedConfig, undefined);
  });

  test('validate: leasebox warnings come through, named by field', async () => {
    const result = await harness.validateConfig({ driverKey, config: { egressAllowFqdns: ['api.example.com'] } });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.ok(result.warnings.some((warning) => warning.startsWith('egressAllowFqdns')), JSON.stringify(result.warnings));
  });

  test("validate: a configuration written for Paperclip's Kubernetes provider is accepted and mapped", async () => {
    const config = {
      namespacePrefix: 'leasebox-',
      backend: 'sandbox-cr',
      imageRegistry: 'https://registry.example.com/agents/',
      adapters: [
        { adapterType: 'claude_local', enabled: true, runtimeImage: 'claude:v2', probeCommand: ['claude', '--version'] },
        { adapterType: 'codex_local', enabled: false, runtimeImage: 'codex:v2' },
      ],
      paperclipServerPodSelector: { app: 'paperclip-server' },
      reuseLease: false,
    };
    const result = await harness.validateConfig({ driverKey, config });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(result.normalizedConfig, config);
  });

  test('validate: a Kubernetes-provider field leasebox cannot honour is an error naming it and the fix', async () => {
    const result = await harness.validateConfig({ driverKey, config: { reuseLease: true } });
    assert.equal(result.ok, false);
    assert.ok(result.errors.some((error) => error.startsWith('reuseLease: ')), JSON.stringify(result.errors));
  });

  test('probe: no cluster is an error diagnostic, not a thrown error', async () => {
    const result = await harness.probe({ ...base, config: { backend: 'pod' } });
    assert.equal(result.ok, false);
    const noCluster = result.diagnostics.find((d) => d.code === 'no-cluster');
    assert.ok(noCluster, JSON.stringify(result.diagnostics));
    assert.equal(noCluster.severity, 'error');
    assert.match(result.summary, /cannot reach the cluster/);
  });

  test('probe: a configuration that cannot be used says why, per field', async () => {
    const result = await harness.probe({ ...base, config: { reuseLease: true } });
    assert.equal(result.ok, false);
    assert.ok(result.diagnostics.some((d) => d.severity === 'error' && d.message.startsWith('reuseLease: ')));
  });

  test('acquire: a requested deadline in the past fails before the cluster is asked', async () => {
    await assert.rejects(
      harness.acquireLease({ ...base, config: {}, runId: 'run-1', requestedExpiresAt: '2020-01-01T00:00:00Z' }),
      /requestedExpiresAt 2020-01-01T00:00:00.000Z is in the past.*nothing was acquired/,
    );
    await assert.rejects(
      harness.acquireLease({ ...base, config: {}, runId: 'run-1', requestedExpiresAt: 'next tuesday' }),
      /is not an ISO 8601 time/,
    );
    assertEnvironmentError(harness.environmentEvents, 'acquireLease', 'env-1');
  });

  test('acquire: an adapter the Kubernetes-provider adapters[] leaves out is refused', async () => {
    const config = { adapters: [{ adapterType: 'claude_local', runtimeImage: 'claude:v2' }] };
    await assert.rejects(
      harness.acquireLease({ ...base, config, runId: 'run-2', adapterType: 'codex_local' }),
      /adapter `codex_local` is not enabled in this environment's adapters\[\]/,
    );
    // A run that names no adapter in a configuration that names none gets leasebox's default, checked the same way.
    await assert.rejects(
      harness.acquireLease({ ...base, config: { adapters: [{ adapterType: 'codex_local', runtimeImage: 'codex:v2' }] }, runId: 'run-2' }),
      /adapter `claude_local` is not enabled/,
    );
  });

  test('acquire without a cluster rejects with leasebox\'s no-cluster error', async () => {
    await assert.rejects(harness.acquireLease({ ...base, config: {}, runId: 'run-3' }), /cluster/);
  });

  test('release of a null lease is nothing to do', async () => {
    assert.equal(await harness.releaseLease({ ...base, config: {}, providerLeaseId: null }), undefined);
  });
});

const kubeconfig = process.env.LEASEBOX_E2E_KUBECONFIG;
describe('on a real cluster: the harness lifecycle assertions', { skip: kubeconfig ? false : 'LEASEBOX_E2E_KUBECONFIG is not set' }, () => {
  const company = 'paperclip-harness';
  const namespace = `leasebox-e2e-${company}`;
  const dir = mkdtempSync(join(tmpdir(), 'leasebox-paperclip-harness-'));
  const settingsFile = join(dir, 'settings.yaml');
  writeFileSync(settingsFile, 'fence:\n  namespacePrefix: leasebox-e2e-\n');
  const { harness, provider, driverKey } = harnessWith({ leaseboxBin: binary, kubeconfig, settingsFile });
  const config = JSON.parse(readFileSync(`${repository}tests/e2e/configs/base.json`, 'utf8'));
  delete config.inCluster;
  const base = { driverKey, companyId: company, environmentId: 'env-harness', config };
  const kubectl = (...args) => promisify(execFile)(findKubectl(), ['--kubeconfig', kubeconfig, ...args], { timeout: 240_000 });

  after(async () => {
    await provider.shutdown();
    await kubectl('delete', 'namespace', namespace, '--ignore-not-found', '--wait=false');
    rmSync(dir, { recursive: true, force: true });
  });

  test('acquire, realize, execute, release: in that order, each recorded by the harness', async () => {
    await kubectl('delete', 'namespace', namespace, '--ignore-not-found', '--wait=true', '--timeout=180s');
    const lease = await harness.acquireLease({ ...base, runId: 'run-harness' });
    const { cwd } = await harness.realizeWorkspace({ ...base, lease, workspace: {} });
    assert.equal(cwd, '/workspace');
    const result = await harness.execute({ ...base, lease, command: 'echo hi from $(pwd)', cwd });
    assert.equal(result.stdout, 'hi from /workspace\n');
    // Called again while it answers "not confirmed gone", as the Paperclip server does (a busy node is slow to remove a pod).
    let receipt;
    for (let attempt = 1; receipt === undefined; attempt += 1) {
      receipt = await harness.releaseLease({ ...base, providerLeaseId: lease.providerLeaseId }).catch((error) => {
        if (attempt >= 5 || !/not confirmed gone/.test(String(error))) throw error;
        return undefined;
      });
    }
    assert.deepEqual(receipt, { providerLeaseId: lease.providerLeaseId, state: 'destroyed' });
    assertLeaseLifecycle(harness.environmentEvents, 'env-harness');
    assertWorkspaceRealizationLifecycle(harness.environmentEvents, 'env-harness');
    assertExecutionLifecycle(harness.environmentEvents, 'env-harness');
    const pods = (await kubectl('get', 'pods', '-n', namespace, '-l', `leasebox.dev/lease=${lease.providerLeaseId}`, '-o', 'name')).stdout;
    assert.equal(pods.trim(), '');
  });
});

function findKubectl() {
  const candidates = [process.env.KUBECTL, `${repository}../shared/k8s-real/kubectl`].filter(Boolean);
  return candidates.find((path) => existsSync(path)) ?? 'kubectl';
}
