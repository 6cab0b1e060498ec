// The client against `leasebox serve` without a cluster: the offline
// methods, typed errors, many calls at once, and a clean exit.
//
// Needs LEASEBOX_BIN (the leasebox binary).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ErrorCode, LeaseboxClient, LeaseboxError } from '../dist/index.js';

const binary = process.env.LEASEBOX_BIN;
if (!binary) {
  throw new Error('LEASEBOX_BIN is not set: set it to the leasebox binary, e.g. LEASEBOX_BIN=target/debug/leasebox npm test');
}

/** A valid configuration of the built-in module. */
const CONFIG = { inCluster: true, backend: 'pod' };

/** This process's environment, with a kubeconfig that does not exist and no host settings: no cluster. */
function offline() {
  const env = { ...process.env, KUBECONFIG: '/nonexistent/leasebox-client-test/kubeconfig' };
  delete env.LEASEBOX_SETTINGS;
  return env;
}

let client;

before(async () => {
  client = await LeaseboxClient.spawn({ binary, env: offline() });
});

after(async () => {
  await client?.close().catch(() => {});
});

test('the server says it serves without a cluster, and health says none', async () => {
  const health = await client.health();
  assert.equal(health.ok, true);
  assert.equal(health.cluster, 'none');
  assert.equal(health.module.source, 'default');
  assert.match(health.module.sha256, /^[0-9a-f]{64}$/);
  // stderr and stdout are two pipes: the log line may arrive after the answer.
  const said = () => client.logs.some((entry) => entry.message.includes('serving without a cluster'));
  for (let waited = 0; !said() && waited < 5000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(said(), `no "serving without a cluster" in the server's log: ${JSON.stringify(client.logs)}`);
});

test('validateConfig: a valid configuration, normalized', async () => {
  const report = await client.validateConfig(CONFIG);
  assert.equal(report.ok, true, JSON.stringify(report.errors));
  assert.deepEqual(report.errors, []);
  assert.equal(report.normalizedConfig.backend, 'pod');
});

test('validateConfig: an invalid configuration is a result whose errors name the field', async () => {
  const report = await client.validateConfig({ inCluster: true, backend: 'vm' });
  assert.equal(report.ok, false);
  assert.equal(report.normalizedConfig, null);
  assert.equal(report.errors.length, 1, JSON.stringify(report.errors));
  assert.equal(report.errors[0].path, 'backend');
  assert.match(report.errors[0].message, /`vm`/);
});

test('validateConfig takes the configuration as JSON text too', async () => {
  const report = await client.validateConfig(JSON.stringify({ inCluster: true, backend: 'job' }));
  assert.equal(report.ok, true, JSON.stringify(report.errors));
  assert.equal(report.normalizedConfig.backend, 'job');
});

test('plan: the manifests for a lease, offline', async () => {
  const leaseId = 'lb-01jd5z8k9m0000000000000000';
  const plan = await client.plan({ config: CONFIG, companyId: 'acme', leaseId, now: '2025-01-02T03:04:05Z' });
  const kinds = plan.manifests.map((manifest) => manifest.kind);
  assert.ok(kinds.includes('Pod'), `no Pod among ${kinds}`);
  assert.ok(kinds.includes('Namespace'), `no Namespace among ${kinds}`);
  const pod = plan.manifests.find((manifest) => manifest.kind === 'Pod');
  assert.ok(JSON.stringify(pod.metadata).includes(leaseId), 'the pod is not labelled with the lease id');
});

test('plan: an image outside the allow-list is refused with -32001 not-allowed', async () => {
  const refused = await client
    .plan({ config: { inCluster: true, imageAllowList: ['ghcr.io/acme/*'] }, image: 'docker.io/evil/agent:1' })
    .then(() => assert.fail('plan accepted an image outside imageAllowList'), (error) => error);
  assert.ok(refused instanceof LeaseboxError, String(refused));
  assert.equal(refused.code, ErrorCode.PolicyRefused);
  assert.equal(refused.reason, 'not-allowed');
  assert.match(refused.message, /^plan: image override `docker.io\/evil\/agent:1`/);
});

test('acquireLease without a cluster rejects with -32003 no-cluster', async () => {
  await assert.rejects(client.acquireLease({ config: CONFIG, companyId: 'acme', runId: 'run-1' }), (error) => {
    assert.ok(error instanceof LeaseboxError, String(error));
    assert.equal(error.code, -32003);
    assert.equal(error.reason, 'no-cluster');
    assert.equal(error.data.reason, 'no-cluster');
    assert.equal(error.method, 'acquire');
    assert.match(error.message, /--kubeconfig/);
    return true;
  });
});

test('execute and releaseLease without a cluster reject with no-cluster too', async () => {
  const providerLeaseId = 'lb-01jd5z8k9m0000000000000000';
  // In flight together, answered in any order: each is settled before any
  // is judged, so none is a rejection nobody handled yet.
  const results = await Promise.allSettled([
    client.execute({ providerLeaseId, command: 'true' }),
    client.execute({ providerLeaseId, args: ['cat'], stdin: 'input' }),
    client.releaseLease({ providerLeaseId }),
    client.probe(CONFIG, { companyId: 'acme' }),
  ]);
  for (const result of results) {
    assert.equal(result.status, 'rejected', JSON.stringify(result));
    assert.ok(
      result.reason instanceof LeaseboxError && result.reason.reason === 'no-cluster',
      String(result.reason),
    );
  }
});

test('an unknown method rejects with -32601 method-not-found', async () => {
  await assert.rejects(client.call('fly'), (error) => {
    assert.ok(error instanceof LeaseboxError, String(error));
    assert.equal(error.code, ErrorCode.MethodNotFound);
    assert.equal(error.reason, 'method-not-found');
    assert.match(error.message, /no method `fly`/);
    return true;
  });
});

test('bad params reject with -32602 naming the field', async () => {
  await assert.rejects(client.call('validate', { config: CONFIG, colour: 'red' }), (error) => {
    assert.equal(error.code, ErrorCode.InvalidParams);
    assert.equal(error.reason, 'invalid-params');
    assert.match(error.message, /colour/);
    return true;
  });
  await assert.rejects(
    client.execute({ providerLeaseId: 'lb-01jd5z8k9m0000000000000000', command: 'true', args: ['true'] }),
    (error) => error.code === ErrorCode.InvalidParams && /exactly one of/.test(error.message),
  );
});

test('policyReload without a module file rejects with -32004 no-module-file', async () => {
  await assert.rejects(client.policyReload(), (error) => error.code === ErrorCode.ModuleRefused && error.reason === 'no-module-file');
});

test('policyReload of a path the operator did not allow rejects with -32004 naming the setting', async () => {
  await assert.rejects(
    client.policyReload('/etc/passwd'),
    (error) =>
      error.code === ErrorCode.ModuleRefused &&
      error.reason === 'reload-from-clients-off' &&
      error.message.includes('serve.reload.fromClients'),
  );
});

test('many calls in flight at once are each answered with their own result', async () => {
  const backends = ['pod', 'job', 'sandbox-cr', 'vm', 'lambda'];
  const calls = Array.from({ length: 60 }, (_, i) => backends[i % backends.length]).map((backend) =>
    client.validateConfig({ inCluster: true, backend }).then((report) => ({ backend, report })),
  );
  calls.push(client.schema().then((schema) => ({ backend: 'schema', report: schema })));
  const answers = await Promise.all(calls);
  for (const { backend, report } of answers) {
    if (backend === 'schema') {
      assert.equal(typeof report.properties, 'object', 'the schema has properties');
    } else if (backend === 'vm' || backend === 'lambda') {
      assert.equal(report.ok, false);
      assert.match(report.errors[0].message, new RegExp(`\`${backend}\``));
    } else {
      assert.equal(report.ok, true, `${backend}: ${JSON.stringify(report.errors)}`);
      assert.equal(report.normalizedConfig.backend, backend);
    }
  }
});

test('an AbortSignal already aborted rejects without a call', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(client.health({ signal: controller.signal }), (error) => {
    assert.equal(error.code, null);
    assert.equal(error.reason, 'cancelled');
    return true;
  });
});

test('close() ends the server cleanly; later calls reject with client-closed', async () => {
  const own = await LeaseboxClient.spawn({ binary, env: offline() });
  assert.equal((await own.health()).ok, true);
  await own.close();
  await assert.rejects(own.health(), (error) => error.reason === 'client-closed' && error.code === null);
});

test('a binary that does not exist rejects spawn with spawn-failed', async () => {
  await assert.rejects(LeaseboxClient.spawn({ binary: '/nonexistent/leasebox' }), (error) => {
    assert.equal(error.reason, 'spawn-failed');
    assert.match(error.message, /LEASEBOX_BIN/);
    return true;
  });
});

test('a server that dies fails the calls in flight with server-exited', async () => {
  const own = await LeaseboxClient.spawn({ binary, env: offline() });
  await own.health();
  process.kill(own.pid, 'SIGKILL');
  await assert.rejects(own.health(), (error) => {
    assert.equal(error.reason, 'server-exited');
    assert.match(error.message, /SIGKILL/);
    return true;
  });
  await assert.rejects(own.close(), (error) => error.reason === 'server-exited');
});
