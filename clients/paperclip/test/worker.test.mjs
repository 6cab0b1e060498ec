// The built worker forked as the Paperclip server forks it, without a
// cluster: what it declares, the operator's settings it asks the host for,
// its one leasebox serve (restarted when it dies, or the operator's socket
// instead), the login terminal's refusals, and a clean shutdown.
//
// Needs LEASEBOX_BIN (the leasebox binary).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { PACKAGE_DIR, PaperclipHost } from './support/paperclip-host.mjs';

const binary = process.env.LEASEBOX_BIN;
if (!binary) {
  throw new Error('LEASEBOX_BIN is not set: set it to the leasebox binary, e.g. LEASEBOX_BIN=target/debug/leasebox npm test');
}
const OFFLINE = { leaseboxBin: binary, kubeconfig: '/nonexistent/leasebox-paperclip-test/kubeconfig' };
const CONFIG = { backend: 'pod' };

/** Waits (20 s at most) until `seen()` is true. */
async function until(what, seen) {
  for (let waited = 0; !seen(); waited += 50) {
    assert.ok(waited < 20_000, `waited 20 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The pids of the `leasebox serve` processes the worker said it started, in order. */
function servePids(host) {
  return host.logMessages.flatMap((message) => {
    const found = /started leasebox serve \(pid (\d+)\)/.exec(message);
    return found ? [Number(found[1])] : [];
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('package.json names the manifest and the worker; the manifest declares the sandbox-provider driver under leasebox and kubernetes', async () => {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
  const manifest = (await import(join(PACKAGE_DIR, pkg.paperclipPlugin.manifest))).default;
  assert.equal(manifest.version, pkg.version);
  assert.equal(manifest.apiVersion, 1);
  assert.deepEqual(manifest.capabilities, ['environment.drivers.register']);
  assert.equal(manifest.entrypoints.worker, pkg.paperclipPlugin.worker);
  assert.deepEqual(manifest.environmentDrivers.map((driver) => driver.driverKey), ['leasebox', 'kubernetes']);
  for (const driver of manifest.environmentDrivers) {
    assert.equal(driver.kind, 'sandbox_provider');
    assert.equal(driver.supportsLoginPty, true);
    assert.equal(driver.supportsReusableLeases, false);
    assert.equal(driver.configSchema.properties.kubeconfig.format, 'secret-ref');
  }
  assert.deepEqual(Object.keys(manifest.instanceConfigSchema.properties).sort(), ['context', 'kubeconfig', 'leaseboxBin', 'serveSocket', 'settingsFile']);
});

test("the driver's schema is leasebox's own: the copy in the package is what `leasebox schema` prints", () => {
  const printed = JSON.parse(execFileSync(binary, ['schema'], { encoding: 'utf8' }));
  const kept = JSON.parse(readFileSync(join(PACKAGE_DIR, 'src', 'leasebox-config.schema.json'), 'utf8'));
  assert.deepEqual(kept, printed, 'the schema changed: run `npm run schema` in clients/paperclip');
});

test('forked with a minimal environment, the worker initializes, asks the host for its settings and validates', async () => {
  const host = await PaperclipHost.start({ instanceConfig: OFFLINE });
  try {
    assert.equal(host.initializeResult.ok, true);
    const result = await host.request('environmentValidateConfig', { driverKey: host.driverKey, config: { backend: 'vm' } });
    assert.equal(result.ok, false);
    assert.ok(result.errors.some((error) => error.startsWith('backend: ')), JSON.stringify(result.errors));
    assert.ok(host.workerRequests.some((request) => request.method === 'config.get'));
    assert.ok(host.logMessages.some((message) => /started leasebox serve \(pid \d+\)/.test(message)), host.logMessages.join('\n'));
  } finally {
    assert.deepEqual(await host.shutdown(), { code: 0, signal: null });
  }
});

test('probe through the worker without a cluster: an error diagnostic naming no-cluster', async () => {
  const host = await PaperclipHost.start({ instanceConfig: OFFLINE });
  try {
    const result = await host.environment('environmentProbe', 'acme', { environmentId: 'env-1', config: CONFIG });
    assert.equal(result.ok, false);
    assert.ok(result.diagnostics.some((d) => d.code === 'no-cluster' && d.severity === 'error'), JSON.stringify(result));
  } finally {
    await host.shutdown();
  }
});

test('an unknown instance setting fails the call with an error naming it; nothing is spawned', async () => {
  const host = await PaperclipHost.start({ instanceConfig: { ...OFFLINE, leaseboxBinary: '/usr/bin/leasebox' } });
  try {
    await assert.rejects(
      host.request('environmentValidateConfig', { driverKey: host.driverKey, config: CONFIG }),
      (error) => {
        assert.match(error.message, /unknown setting `leaseboxBinary`/);
        assert.equal(error.code, -32002);
        return true;
      },
    );
    assert.deepEqual(servePids(host), []);
  } finally {
    await host.shutdown();
  }
});

test('a leasebox serve that dies is restarted, its death logged; calls work again', async () => {
  const host = await PaperclipHost.start({ instanceConfig: OFFLINE });
  try {
    await host.request('environmentValidateConfig', { driverKey: host.driverKey, config: CONFIG });
    const [first] = servePids(host);
    process.kill(first, 'SIGKILL');
    await until('a second leasebox serve', () => servePids(host).length === 2);
    assert.ok(host.logMessages.some((message) => /leasebox serve ended \(code null, signal SIGKILL\); restarting it/.test(message)));
    const result = await host.request('environmentValidateConfig', { driverKey: host.driverKey, config: CONFIG });
    assert.equal(result.ok, true, JSON.stringify(result));
  } finally {
    await host.shutdown();
  }
});

test('shutdown ends the worker with code 0 and its leasebox serve with it', async () => {
  const host = await PaperclipHost.start({ instanceConfig: OFFLINE });
  await host.request('environmentValidateConfig', { driverKey: host.driverKey, config: CONFIG });
  const [pid] = servePids(host);
  assert.ok(alive(pid));
  assert.deepEqual(await host.shutdown(), { code: 0, signal: null });
  await until(`leasebox serve (pid ${pid}) to end`, () => !alive(pid));
});

test("with serveSocket the worker speaks to the operator's running leasebox serve and spawns none", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasebox-paperclip-socket-'));
  const socket = join(dir, 'serve.sock');
  const env = { ...process.env, KUBECONFIG: OFFLINE.kubeconfig };
  const server = spawn(binary, ['serve', '--listen', `unix:${socket}`], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  let host;
  try {
    await until('the socket', () => existsSync(socket));
    host = await PaperclipHost.start({ instanceConfig: { serveSocket: socket } });
    const result = await host.request('environmentValidateConfig', { driverKey: host.driverKey, config: CONFIG });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(servePids(host), []);
    assert.ok(host.logMessages.some((message) => message.includes(`connected to leasebox serve at unix:${socket}`)));
    assert.deepEqual(await host.shutdown(), { code: 0, signal: null });
    assert.equal(server.exitCode, null, "the worker's shutdown does not end the operator's server");
  } finally {
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serveSocket with settings only a spawned server takes is refused, naming both', async () => {
  const host = await PaperclipHost.start({ instanceConfig: { serveSocket: '/run/leasebox.sock', kubeconfig: '/etc/kubeconfig' } });
  try {
    await assert.rejects(
      host.request('environmentValidateConfig', { driverKey: host.driverKey, config: CONFIG }),
      /`kubeconfig` cannot be used with `serveSocket`/,
    );
  } finally {
    await host.shutdown();
  }
});

test('loginPtyOpen refuses a session home of another shape, an unknown command key, and a lease this worker did not acquire', async () => {
  const host = await PaperclipHost.start({ instanceConfig: OFFLINE });
  const open = (overrides) =>
    host.request('loginPtyOpen', {
      hostRouteId: 'route-1',
      driverKey: host.driverKey,
      companyId: 'acme',
      environmentId: 'env-1',
      providerLeaseId: 'lb-01jdq7s5v8n3c2x9w4y6z0a1b2',
      loginCommandKey: 'claude',
      sessionHome: '/tmp/paperclip-adapter-login/6f1c2a9e-3b7d-4e8a-9c1f-2d3e4f5a6b7c',
      ...overrides,
    });
  try {
    await assert.rejects(open({ sessionHome: '/tmp/paperclip-adapter-login/../../etc' }), /sessionHome must be/);
    await assert.rejects(open({ loginCommandKey: 'bash' }), /loginCommandKey `bash` is not one of claude, codex, grok/);
    await assert.rejects(open({ driverKey: 'daytona' }), /driverKey `daytona` is not one of this plugin's \(leasebox, kubernetes\)/);
    await assert.rejects(open({}), /was not acquired or resumed by this worker/);
    assert.deepEqual(await host.request('loginPtyClose', { hostRouteId: 'route-1' }), { hostRouteId: 'route-1' });
  } finally {
    await host.shutdown();
  }
});
