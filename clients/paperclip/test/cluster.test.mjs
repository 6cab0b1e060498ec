// The plugin on a real cluster, driven as the Paperclip server drives it:
// the built worker forked with a minimal environment and spoken to over
// stdio (the SDK's framing, the invocation envelope on every request, the
// worker's `config.get` answered with the operator's instance settings).
// One lease's whole life: validate, probe, acquire (with and without a
// requested deadline; one in the past fails and leaves nothing), resume,
// realizeWorkspace, syncIn of a tree (a 0600 file, a symlink, excluded
// globs, post-upload commands), execute (streamed output, exit 0, exit 3,
// a timeout, stdin), syncOut (a mode), cancelActiveWork, release, destroy
// again, resume after release; then nothing of the lease on the cluster,
// read with kubectl rather than from the plugin's answers.
//
// Two scenarios: a leasebox configuration, and a configuration written for
// Paperclip's Kubernetes provider. PAPERCLIP_E2E_SCENARIO picks one
// (`leasebox`, `kubernetes-provider`); both run when it is unset.
//
// Runs when LEASEBOX_E2E_KUBECONFIG is set (a disposable cluster with the
// `busybox:k8s-real` image); says it is skipped otherwise. Needs
// LEASEBOX_BIN, and kubectl (KUBECTL, else ../shared/k8s-real/kubectl beside
// the repository, else kubectl on the PATH).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { PaperclipHost } from './support/paperclip-host.mjs';

const binary = process.env.LEASEBOX_BIN;
if (!binary) {
  throw new Error('LEASEBOX_BIN is not set: set it to the leasebox binary, e.g. LEASEBOX_BIN=target/debug/leasebox npm test');
}
const kubeconfig = process.env.LEASEBOX_E2E_KUBECONFIG;
const repository = fileURLToPath(new URL('../../../', import.meta.url));
const NAMESPACE_PREFIX = 'leasebox-e2e-';

/** The e2e suite's leasebox configuration (pod backend, busybox), on the operator's connection. */
function leaseboxConfig() {
  const config = JSON.parse(readFileSync(`${repository}tests/e2e/configs/base.json`, 'utf8'));
  delete config.inCluster;
  delete config.kubeconfig;
  return config;
}

/**
 * The same sandbox as Paperclip's Kubernetes provider is configured for it:
 * its field names and shapes (`runtimeImage`, `probeCommand` as an argv,
 * `enabled`, a partial `defaultResources`; an `imageRegistry`, which would
 * move the image to another registry, has no place on this cluster),
 * and a key the Paperclip server adds itself (`reuseLease: false`).
 */
function kubernetesProviderConfig() {
  return {
    namespacePrefix: NAMESPACE_PREFIX,
    backend: 'pod',
    adapterType: 'busybox',
    adapters: [
      {
        adapterType: 'busybox',
        enabled: true,
        runtimeImage: 'busybox:k8s-real',
        envKeys: [],
        allowFqdns: [],
        probeCommand: ['sh', '-c', 'echo probe ok'],
        defaultEnv: { GREETING: 'hello from the adapter' },
      },
    ],
    egressMode: 'standard',
    defaultResources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m' } },
    podActivityDeadlineSec: 600,
    podReadyTimeoutSec: 120,
    reuseLease: false,
  };
}

/** Each scenario under its driver key: an environment of Paperclip's provider keeps its `provider: "kubernetes"`. */
const SCENARIOS = [
  { name: 'leasebox', company: 'paperclip', config: leaseboxConfig, driverKey: 'leasebox' },
  { name: 'kubernetes-provider', company: 'paperclip-k8s', config: kubernetesProviderConfig, driverKey: 'kubernetes' },
];

const chosen = process.env.PAPERCLIP_E2E_SCENARIO;
if (!kubeconfig) {
  test('the plugin on a real cluster', {
    skip: 'LEASEBOX_E2E_KUBECONFIG is not set; set it to the kubeconfig of a disposable cluster to run this',
  });
} else {
  for (const scenario of SCENARIOS.filter((s) => chosen === undefined || s.name === chosen)) {
    describe(`a lease through the forked worker (${scenario.name} configuration)`, () => lifecycle(scenario));
  }
}

function lifecycle({ company, config: makeConfig, driverKey }) {
  const kubectlBinary = findKubectl();
  const kubectl = async (...args) => {
    try {
      return (await promisify(execFile)(kubectlBinary, ['--kubeconfig', kubeconfig, ...args], { timeout: 240_000 })).stdout;
    } catch (error) {
      throw new Error(`kubectl ${args.join(' ')} failed (${kubectlBinary}; set KUBECTL to another kubectl): ${error.stderr || error.message}`);
    }
  };
  const namespace = `${NAMESPACE_PREFIX}${company}`;
  const environmentId = `env-${company}`;
  const config = makeConfig();
  const dir = mkdtempSync(join(tmpdir(), `leasebox-paperclip-${company}-`));
  let host;
  let lease;
  const leaseId = () => {
    assert.ok(lease?.providerLeaseId, 'no lease: acquire failed, see the first failure');
    return lease.providerLeaseId;
  };
  const hook = (method, params) => host.environment(method, company, { driverKey, environmentId, config, ...params });
  const startHook = (method, params) => host.startEnvironment(method, company, { driverKey, environmentId, config, ...params });
  const leaseObjects = async (id) => {
    const out = await kubectl(
      'get', 'pods,secrets,networkpolicies,jobs', '-n', namespace, '-l', `leasebox.dev/lease=${id}`, '-o', 'name', '--ignore-not-found',
    );
    return out.split('\n').filter(Boolean);
  };
  /**
   * A release (or destroy) called again while it answers "not confirmed
   * gone", as the Paperclip server does with a lease in pending cleanup (a
   * busy node can take longer than one call to remove a pod).
   */
  const releaseUntilReceipt = async (method, params) => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await hook(method, params);
      } catch (error) {
        if (attempt >= 5 || !/not confirmed gone/.test(String(error))) throw error;
      }
    }
  };
  /** Waits (60 s at most) until the lease's objects are gone: what the pod owns goes with the garbage collector. */
  const assertNothingLeft = async (id) => {
    let left = await leaseObjects(id);
    for (let waited = 0; left.length > 0 && waited < 60_000; waited += 1000) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      left = await leaseObjects(id);
    }
    assert.deepEqual(left, [], `objects of lease ${id} are left on the cluster`);
  };
  const podExec = (...argv) => kubectl('exec', '-n', namespace, lease.metadata.pod, '-c', lease.metadata.container, '--', ...argv);

  before(async () => {
    await kubectl('delete', 'namespace', namespace, '--ignore-not-found', '--wait=true', '--timeout=180s');
    const settingsFile = join(dir, 'settings.yaml');
    writeFileSync(settingsFile, `fence:\n  namespacePrefix: ${NAMESPACE_PREFIX}\n`);
    host = await PaperclipHost.start({ instanceConfig: { leaseboxBin: binary, kubeconfig, settingsFile } });
  });

  after(async () => {
    if (lease?.providerLeaseId && host) {
      await releaseUntilReceipt('environmentDestroyLease', { providerLeaseId: lease.providerLeaseId }).catch(() => {});
    }
    if (host) {
      const exit = await host.shutdown().catch(() => null);
      assert.deepEqual(exit, { code: 0, signal: null }, `the worker did not exit cleanly: ${host.stderr.join('\n')}`);
    }
    await kubectl('delete', 'namespace', namespace, '--ignore-not-found', '--wait=false');
    rmSync(dir, { recursive: true, force: true });
  });

  test('the worker initializes and lists every environment hook and the login terminal', () => {
    assert.equal(host.initializeResult.ok, true);
    for (const method of [
      'environmentValidateConfig', 'environmentProbe', 'environmentAcquireLease', 'environmentResumeLease',
      'environmentReleaseLease', 'environmentDestroyLease', 'environmentRealizeWorkspace', 'environmentExecute',
      'environmentSyncIn', 'environmentSyncOut', 'loginPtyOpen', 'loginPtyInput', 'loginPtyStop', 'loginPtyClose',
    ]) {
      assert.ok(host.initializeResult.supportedMethods.includes(method), `${method} is not in ${host.initializeResult.supportedMethods}`);
    }
  });

  test('validate: the configuration is valid; the worker asked the host for its instance settings', async () => {
    const result = await host.request('environmentValidateConfig', { driverKey, config });
    assert.equal(result.ok, true, JSON.stringify(result.errors));
    assert.equal(typeof result.normalizedConfig, 'object');
    assert.ok(host.workerRequests.some((request) => request.method === 'config.get'), 'no config.get from the worker');
  });

  test('probe: the cluster can take leases, each check a diagnostic', async () => {
    const result = await hook('environmentProbe', {});
    assert.equal(result.ok, true, JSON.stringify(result.diagnostics));
    assert.ok(result.diagnostics.length > 0);
    assert.ok(result.diagnostics.every((d) => d.severity !== 'error'), JSON.stringify(result.diagnostics));
  });

  test('acquire with a deadline in the past fails, and leaves no lease on the cluster', async () => {
    const before = await kubectl('get', 'pods', '-n', namespace, '-o', 'name', '--ignore-not-found');
    await assert.rejects(
      hook('environmentAcquireLease', { runId: 'run-past', requestedExpiresAt: new Date(Date.now() - 60_000).toISOString() }),
      /requestedExpiresAt .* in the past/,
    );
    const after = await kubectl('get', 'pods', '-n', namespace, '-o', 'name', '--ignore-not-found');
    assert.equal(after, before);
  });

  test('acquire with a requested deadline: the lease and its workload end at or before it', async () => {
    const requested = new Date(Date.now() + 10 * 60_000);
    const bounded = await hook('environmentAcquireLease', { runId: 'run-deadline', requestedExpiresAt: requested.toISOString() });
    try {
      assert.ok(Date.parse(bounded.expiresAt) <= requested.getTime(), `${bounded.expiresAt} is after ${requested.toISOString()}`);
      assert.ok(Date.parse(bounded.expiresAt) > requested.getTime() - 60_000, `${bounded.expiresAt} is far before the deadline`);
      const onCluster = (
        await kubectl('get', 'pod', bounded.metadata.pod, '-n', namespace, '-o', `jsonpath={.metadata.annotations.leasebox\\.dev/expires-at}`)
      ).trim();
      assert.ok(Date.parse(onCluster) <= requested.getTime(), `the workload's deadline ${onCluster} is after ${requested.toISOString()}`);
    } finally {
      const receipt = await releaseUntilReceipt('environmentReleaseLease', { providerLeaseId: bounded.providerLeaseId });
      assert.deepEqual(receipt, { providerLeaseId: bounded.providerLeaseId, state: 'destroyed' });
    }
    await assertNothingLeft(bounded.providerLeaseId);
  });

  test('acquire: a running pod in the tenant namespace, its lease in the metadata', async () => {
    lease = await hook('environmentAcquireLease', { runId: 'run-main', adapterType: 'busybox' });
    assert.match(lease.providerLeaseId, /^lb-/);
    assert.equal(lease.metadata.namespace, namespace);
    assert.equal(typeof lease.expiresAt, 'string');
    const phase = (await kubectl('get', 'pod', lease.metadata.pod, '-n', namespace, '-o', 'jsonpath={.status.phase}')).trim();
    assert.equal(phase, 'Running');
  });

  test('resume: the same lease, with Paperclip host keys in its metadata tolerated', async () => {
    const resumed = await hook('environmentResumeLease', {
      providerLeaseId: leaseId(),
      leaseMetadata: { ...lease.metadata, pluginId: 'leasebox.sandbox-provider', sandboxLeaseAcquisition: 'fresh' },
    });
    assert.equal(resumed.providerLeaseId, leaseId());
    assert.equal(resumed.metadata.pod, lease.metadata.pod);
  });

  test('a lease is not reachable from another company', async () => {
    await assert.rejects(
      host.environment('environmentExecute', 'someone-else', {
        driverKey, environmentId, config, lease, command: 'echo should not run',
      }),
      /is not a lease of company someone-else/,
    );
  });

  test('realizeWorkspace: the workspace directory, no bytes moved', async () => {
    const realized = await hook('environmentRealizeWorkspace', { lease, workspace: { remotePath: '/workspace/project' } });
    assert.equal(realized.cwd, '/workspace/project');
    lease = { ...lease, metadata: { ...lease.metadata, ...realized.metadata } };
    assert.equal((await podExec('sh', '-c', 'test -d /workspace/project && ls -A /workspace/project | wc -l')).trim(), '0');
  });

  test('syncIn: a tree with a 0600 file, a symlink and excluded globs lands as it is; its commands run after it', async () => {
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'src'), { recursive: true });
    mkdirSync(join(tree, 'node_modules', 'dep'), { recursive: true });
    writeFileSync(join(tree, 'src', 'main.txt'), 'main ✓\n');
    writeFileSync(join(tree, 'secret.env'), 'TOKEN=abc\n', { mode: 0o600 });
    writeFileSync(join(tree, 'debug.log'), 'noise\n');
    writeFileSync(join(tree, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
    symlinkSync('src/main.txt', join(tree, 'link.txt'));
    const result = await hook('environmentSyncIn', {
      lease,
      operations: [
        {
          operationId: 'op-workspace',
          files: [{ sourcePath: tree, targetPath: '/workspace/project', kind: 'directory', exclude: ['*.log', 'node_modules'] }],
          postUploadCommands: [
            { command: 'ls -A > .listing' },
            { command: 'cat main.txt > copied.txt', cwd: '/workspace/project/src' },
          ],
        },
      ],
    });
    assert.equal(result.operations.length, 1);
    assert.equal(result.operations[0].operationId, 'op-workspace');
    assert.equal(result.operations[0].filesTransferred, 3, JSON.stringify(result));
    assert.ok(result.operations[0].bytesTransferred > 0);
    const inPod = async (script) => (await podExec('sh', '-c', `cd /workspace/project && ${script}`)).trim();
    assert.equal(await inPod('stat -c "%a" secret.env'), '600');
    assert.equal(await inPod('readlink link.txt'), 'src/main.txt');
    assert.deepEqual((await inPod('cat .listing')).split('\n').sort(), ['.listing', 'link.txt', 'secret.env', 'src']);
    assert.equal(await inPod('cat src/copied.txt'), 'main ✓');
    const names = (await inPod('ls -A')).split('\n');
    assert.ok(!names.includes('debug.log') && !names.includes('node_modules'), names.join(' '));
  });

  test('syncIn: a post-upload command outside the operation roots is refused before anything is copied', async () => {
    await assert.rejects(
      hook('environmentSyncIn', {
        lease,
        operations: [
          {
            operationId: 'op-escape',
            files: [{ sourcePath: join(dir, 'tree', 'src', 'main.txt'), targetPath: '/workspace/project/escape.txt', kind: 'file' }],
            postUploadCommands: [{ command: 'true', cwd: '/etc' }],
          },
        ],
      }),
      /postUploadCommands\[0\]\.cwd: `\/etc` is outside/,
    );
    assert.equal((await podExec('sh', '-c', 'test -e /workspace/project/escape.txt && echo there || echo absent')).trim(), 'absent');
  });

  test('syncIn: a failing post-upload command fails the sync, naming it', async () => {
    await assert.rejects(
      hook('environmentSyncIn', {
        lease,
        operations: [{ operationId: 'op-fail', files: [], postUploadCommands: [{ command: 'exit 4' }, { command: 'touch never' }] }],
      }),
      /post-upload command `exit 4` exited with code 4/,
    );
    assert.equal((await podExec('sh', '-c', 'test -e /workspace/project/never && echo there || echo absent')).trim(), 'absent');
  });

  test('execute: output streamed as execute.log during the call, exit 0', async () => {
    const { invocationId, result } = startHook('environmentExecute', {
      lease,
      command: 'echo one; echo two >&2; echo "$GREETING_FROM_ENV" in "$(pwd)"',
      cwd: '/workspace/project',
      env: { GREETING_FROM_ENV: 'hi' },
    });
    const done = await result;
    assert.equal(done.exitCode, 0, done.stderr);
    assert.equal(done.timedOut, false);
    assert.equal(done.stdout, 'one\nhi in /workspace/project\n');
    assert.equal(done.stderr, 'two\n');
    const logged = host.executeLog(invocationId);
    assert.equal(logged.filter((c) => c.stream === 'stdout').map((c) => c.chunk).join(''), done.stdout);
    assert.equal(logged.filter((c) => c.stream === 'stderr').map((c) => c.chunk).join(''), done.stderr);
  });

  test('execute: output arrives before the command ends', async () => {
    const { invocationId, result } = startHook('environmentExecute', { lease, command: 'echo early; sleep 3; echo late' });
    const started = Date.now();
    for (;;) {
      const logged = host.executeLog(invocationId).map((c) => c.chunk).join('');
      if (logged.includes('early')) break;
      assert.ok(Date.now() - started < 60_000, 'no streamed output within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(!host.executeLog(invocationId).map((c) => c.chunk).join('').includes('late'), 'late came with early');
    assert.equal((await result).stdout, 'early\nlate\n');
  });

  test('execute: a failing command is a result with its exit code; an argv runs without a shell', async () => {
    const failed = await hook('environmentExecute', { lease, command: 'exit 3' });
    assert.equal(failed.exitCode, 3);
    assert.equal(failed.timedOut, false);
    const argv = await hook('environmentExecute', { lease, command: 'echo', args: ['$HOME', 'a b'] });
    assert.equal(argv.stdout, '$HOME a b\n');
  });

  test('execute: a timeout is timedOut with no exit code', async () => {
    const result = await hook('environmentExecute', { lease, command: 'sleep 60', timeoutMs: 1500 });
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
  });

  test('execute: stdin reaches the command', async () => {
    const text = 'line one\nline two ✓\n';
    const result = await hook('environmentExecute', { lease, command: 'cat', args: [], stdin: text });
    assert.equal(result.stdout, text);
  });

  test('syncOut: the tree and one file come back byte for byte, the file with the mode asked for', async () => {
    const out = join(dir, 'out');
    const result = await hook('environmentSyncOut', {
      lease,
      operations: [
        {
          operationId: 'op-out',
          files: [
            { sourcePath: '/workspace/project/src', targetPath: join(out, 'src'), kind: 'directory' },
            { sourcePath: '/workspace/project/secret.env', targetPath: join(out, 'secret-copy.env'), kind: 'file', mode: 0o600 },
          ],
        },
      ],
    });
    assert.equal(result.operations[0].operationId, 'op-out');
    assert.equal(result.operations[0].filesTransferred, 3, JSON.stringify(result));
    assert.equal(readFileSync(join(out, 'src', 'main.txt'), 'utf8'), 'main ✓\n');
    assert.equal(readFileSync(join(out, 'src', 'copied.txt'), 'utf8'), 'main ✓\n');
    assert.equal(readFileSync(join(out, 'secret-copy.env'), 'utf8'), 'TOKEN=abc\n');
    assert.equal(statSync(join(out, 'secret-copy.env')).mode & 0o777, 0o600);
  });

  test('the login terminal runs the fixed command in a terminal in the sandbox, streams it, and says how it ended', async () => {
    const sessionHome = '/tmp/paperclip-adapter-login/6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c';
    const opened = await host.request('loginPtyOpen', {
      hostRouteId: 'route-login',
      driverKey,
      companyId: company,
      environmentId,
      providerLeaseId: leaseId(),
      loginCommandKey: 'claude',
      sessionHome,
    });
    assert.match(opened.workerSessionId, /^pty-/);
    const ofRoute = (method) => host.notifications.filter((n) => n.method === method && n.params.hostRouteId === 'route-login');
    await new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (ofRoute('loginPty.exit').length > 0) {
          clearInterval(poll);
          resolve();
        } else if (Date.now() - started > 60_000) {
          clearInterval(poll);
          reject(new Error(`no loginPty.exit within 60 s; output: ${JSON.stringify(ofRoute('loginPty.output'))}`));
        }
      }, 50);
    });
    // The image has no `claude`: the shell says so on the terminal and exits 127.
    const output = ofRoute('loginPty.output').map((n) => n.params.chunk).join('');
    assert.match(output, /claude/);
    const [exit] = ofRoute('loginPty.exit');
    assert.equal(exit.params.workerSessionId, opened.workerSessionId);
    assert.equal(exit.params.exitCode, 127);
    assert.equal((await podExec('sh', '-c', `test -d ${sessionHome} && echo made`)).trim(), 'made');
    assert.deepEqual(await host.request('loginPtyClose', { hostRouteId: 'route-login' }), { hostRouteId: 'route-login' });
  });

  test('release with cancelActiveWork ends a command in flight, then the receipt; the pod is gone', async () => {
    const running = startHook('environmentExecute', { lease, command: 'echo started; sleep 600' });
    const outcome = running.result.then((result) => ({ result }), (error) => ({ error }));
    for (let waited = 0; !host.executeLog(running.invocationId).some((c) => c.chunk.includes('started')); waited += 50) {
      assert.ok(waited < 60_000, 'the command did not start');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const receipt = await releaseUntilReceipt('environmentReleaseLease', {
      providerLeaseId: leaseId(),
      leaseMetadata: lease.metadata,
      cancelActiveWork: true,
    });
    assert.deepEqual(receipt, { providerLeaseId: leaseId(), state: 'destroyed' });
    const { result, error } = await outcome;
    if (error === undefined) {
      assert.notEqual(result.exitCode, 0, 'the command in flight ran to its end');
    } else {
      assert.match(String(error), /cancel/i);
    }
    await assertNothingLeft(leaseId());
    assert.equal((await kubectl('get', 'pod', lease.metadata.pod, '-n', namespace, '-o', 'name', '--ignore-not-found')).trim(), '');
  });

  test('destroy again is a receipt; resume after release says the lease is gone', async () => {
    const again = await hook('environmentDestroyLease', { providerLeaseId: leaseId(), leaseMetadata: lease.metadata });
    assert.deepEqual(again, { providerLeaseId: leaseId(), state: 'destroyed' });
    const resumed = await hook('environmentResumeLease', { providerLeaseId: leaseId(), leaseMetadata: lease.metadata });
    assert.equal(resumed.providerLeaseId, null);
    assert.equal(resumed.metadata.expired, true);
    assert.match(resumed.metadata.reason, /gone/);
  });

  test('the cluster holds nothing of any lease of this company', async () => {
    const left = await kubectl('get', 'pods,secrets,networkpolicies,jobs', '-n', namespace, '-l', 'leasebox.dev/lease', '-o', 'name', '--ignore-not-found');
    assert.equal(left.trim(), '');
  });
}

function findKubectl() {
  const candidates = [process.env.KUBECTL, `${repository}../shared/k8s-real/kubectl`].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  if (found) return found;
  return 'kubectl';
}
