// The client against `leasebox serve` without a cluster: the offline
// methods, typed errors, many calls at once, and a clean exit.
//
// Needs LEASEBOX_BIN (the leasebox binary).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';

import { ErrorCode, LeaseboxClient, LeaseboxError, Terminal } from '../dist/index.js';
import { RpcConnection } from '../dist/rpc.js';

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

test('ensurePool without a cluster rejects with -32003 no-cluster, naming pool.ensure', async () => {
  const config = { ...CONFIG, backend: 'pod', warmPool: { size: 2 } };
  await assert.rejects(client.ensurePool({ config, companyId: 'acme' }), (error) => {
    assert.ok(error instanceof LeaseboxError, String(error));
    assert.equal(error.code, -32003);
    assert.equal(error.reason, 'no-cluster');
    assert.equal(error.method, 'pool.ensure');
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

const LEASE = 'lb-01jd5z8k9m0000000000000000';

/** The error a promise rejects with (it fails the test when it resolves). */
async function rejection(promise, what) {
  return promise.then(
    (value) => assert.fail(`${what} resolved with ${JSON.stringify(value)}`),
    (error) => {
      assert.ok(error instanceof LeaseboxError, `${what}: ${error}`);
      return error;
    },
  );
}

test('each method of contract 0.3.0 rejects without a cluster with -32003 no-cluster, naming its method', async () => {
  const providerLeaseId = LEASE;
  const terminal = client.openTerminal({ providerLeaseId, args: ['sh'], rows: 24, cols: 80, term: 'xterm' });
  const attached = client.attachProcess({ providerLeaseId, processId: 'p-1', stdoutOffset: 10, follow: false });
  const local = '/tmp';
  const calls = {
    'terminal.open': terminal.result,
    'process.start': client.startProcess({ providerLeaseId, command: 'sleep 60' }),
    'process.list': client.listProcesses({ providerLeaseId }),
    'process.attach': attached.result,
    'process.kill': client.killProcess({ providerLeaseId, processId: 'p-1', signalNumber: 9 }),
    'files.stat': client.statPath({ providerLeaseId, path: '/workspace/a' }),
    'files.list': client.listDirectory({ providerLeaseId, path: '/workspace' }),
    'files.remove': client.removePath({ providerLeaseId, path: '/workspace/a', recursive: true }),
    'files.write': client.writeFile({ providerLeaseId, path: '/workspace/a', data: 'text', mode: '0600' }),
    'files.read': client.readFile({ providerLeaseId, path: '/workspace/a' }),
    'files.syncIn': client.syncIn({
      providerLeaseId,
      operations: [
        {
          operationId: 'op',
          files: [{ sourcePath: local, targetPath: '/workspace/t', kind: 'directory', mode: 0o600, exclude: ['*.log'] }],
          postUploadCommands: [{ command: 'true', timeoutMs: 1000 }],
        },
      ],
    }),
    'files.syncOut': client.syncOut({
      providerLeaseId,
      operations: [{ operationId: 'op', files: [{ sourcePath: '/workspace/t', targetPath: local, kind: 'directory' }] }],
    }),
  };
  const settled = await Promise.allSettled(Object.values(calls));
  Object.keys(calls).forEach((method, i) => {
    const result = settled[i];
    assert.equal(result.status, 'rejected', `${method}: ${JSON.stringify(result)}`);
    const error = result.reason;
    assert.ok(error instanceof LeaseboxError, `${method}: ${error}`);
    assert.equal(error.code, ErrorCode.NoCluster, `${method}: ${error.message}`);
    assert.equal(error.reason, 'no-cluster');
    assert.equal(error.method, method);
  });
  // The streams end with the call's error after their (no) output.
  const chunks = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of terminal) chunks.push(chunk);
    })(),
    (error) => error.reason === 'no-cluster',
  );
  await assert.rejects(
    (async () => {
      for await (const chunk of attached) chunks.push(chunk);
    })(),
    (error) => error.reason === 'no-cluster',
  );
  assert.deepEqual(chunks, []);
});

test('terminal.open refuses a zero, empty or too large window and an empty argv with -32602 before looking for the lease', async () => {
  const cases = [
    [{ rows: 0, cols: 80 }, /`rows` and `cols` must be at least 1/],
    [{ rows: 24, cols: 0 }, /`rows` and `cols` must be at least 1/],
    [{ rows: 70000, cols: 80 }, /70000/],
    [{ rows: 24, cols: 80, args: [] }, /`command` must be a non-empty argv/],
  ];
  for (const [options, message] of cases) {
    const terminal = client.openTerminal({ providerLeaseId: LEASE, ...options });
    const error = await rejection(terminal.result, `terminal.open ${JSON.stringify(options)}`);
    assert.equal(error.code, ErrorCode.InvalidParams, error.message);
    assert.equal(error.reason, 'invalid-params');
    assert.match(error.message, message);
  }
});

test('a terminal refuses a window size that is not 1-65535 in the client, and says false once it has ended', async () => {
  const terminal = client.openTerminal({ providerLeaseId: LEASE, rows: 24, cols: 80 });
  for (const [rows, cols] of [
    [0, 80],
    [24, 0],
    [24, 65536],
    [2.5, 80],
    [Number.NaN, 80],
  ]) {
    assert.throws(
      () => terminal.resize(rows, cols),
      (error) => error instanceof LeaseboxError && error.code === null && error.reason === 'invalid-argument',
      `${rows}x${cols}`,
    );
  }
  await rejection(terminal.result, 'terminal.open');
  assert.equal(terminal.resize(30, 100), false);
});

test('a terminal write after end() rejects with stdin-closed; one after the terminal ended resolves', async () => {
  const terminal = client.openTerminal({ providerLeaseId: LEASE, rows: 24, cols: 80 });
  await rejection(terminal.result, 'terminal.open');
  await terminal.write('after the end of the call\n');
  terminal.end();
  await assert.rejects(terminal.write('after end()'), (error) => {
    assert.ok(error instanceof LeaseboxError, String(error));
    assert.equal(error.code, null);
    assert.equal(error.reason, 'stdin-closed');
    return true;
  });
});

test('a terminal sends no more input than the stdin credit: a write past the window answers no-cluster, not stdin-overflow', async () => {
  const terminal = client.openTerminal({ providerLeaseId: LEASE, rows: 24, cols: 80 });
  const written = terminal.write(new Uint8Array(6 * 1024 * 1024 + 3).fill(0x61));
  const error = await rejection(terminal.result, 'terminal.open');
  assert.equal(error.reason, 'no-cluster', error.message);
  await written;
  terminal.cancel();
});

test('process.start refuses stdin, and both or neither of command and args, with -32602 before looking for the lease', async () => {
  const stdin = await rejection(client.call('process.start', { leaseId: LEASE, shell: 'cat', stdin: true }), 'stdin: true');
  assert.equal(stdin.code, ErrorCode.InvalidParams);
  assert.match(stdin.message, /detached process reads no input/);
  const both = await rejection(client.startProcess({ providerLeaseId: LEASE, command: 'true', args: ['true'] }), 'both');
  assert.equal(both.code, ErrorCode.InvalidParams);
  assert.match(both.message, /exactly one of/);
  const neither = await rejection(client.startProcess({ providerLeaseId: LEASE }), 'neither');
  assert.equal(neither.code, ErrorCode.InvalidParams);
});

test('process.kill refuses a signal outside 1-64 with -32602 before looking for the lease', async () => {
  for (const signalNumber of [0, 65]) {
    const error = await rejection(client.killProcess({ providerLeaseId: LEASE, processId: 'p-1', signalNumber }), `signal ${signalNumber}`);
    assert.equal(error.code, ErrorCode.InvalidParams);
    assert.match(error.message, /`signal` must be 1-64/);
  }
});

test('files.write refuses data that is not base64 and a mode that is not one with -32602 before looking for the lease', async () => {
  const data = await rejection(client.call('files.write', { leaseId: LEASE, path: '/workspace/a', data: '%%%' }), 'data');
  assert.equal(data.code, ErrorCode.InvalidParams);
  assert.match(data.message, /not base64/);
  for (const mode of ['rwx', 0o10000, '0999', true]) {
    const error = await rejection(client.writeFile({ providerLeaseId: LEASE, path: '/workspace/a', data: 'x', mode }), `mode ${mode}`);
    assert.equal(error.code, ErrorCode.InvalidParams, `${mode}: ${error.message}`);
    assert.match(error.message, /mode must be a permission mode/);
  }
});

test('files.syncIn and files.syncOut refuse an unknown kind or key with -32602 naming it', async () => {
  const kind = await rejection(
    client.syncIn({
      providerLeaseId: LEASE,
      operations: [{ operationId: 'op', files: [{ sourcePath: '/tmp', targetPath: '/workspace', kind: 'link' }] }],
    }),
    'kind link',
  );
  assert.equal(kind.code, ErrorCode.InvalidParams);
  assert.match(kind.message, /link/);
  const key = await rejection(
    client.syncOut({
      providerLeaseId: LEASE,
      operations: [{ operationId: 'op', files: [{ sourcePath: '/workspace', targetPath: '/tmp/x', kind: 'directory', chmod: 1 }] }],
    }),
    'key chmod',
  );
  assert.equal(key.code, ErrorCode.InvalidParams);
  assert.match(key.message, /chmod/);
});

test('ErrorCode names -32006, the local end of a file copy', () => {
  assert.equal(ErrorCode.LocalFiles, -32006);
});

/**
 * A server played by the test on a pair of streams: `received()` resolves with the client's next message,
 * `send(message)` writes one to the client.
 */
function fakeServer() {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const messages = [];
  const waiting = [];
  createInterface({ input: toServer }).on('line', (line) => {
    const message = JSON.parse(line);
    const wake = waiting.shift();
    if (wake) wake(message);
    else messages.push(message);
  });
  const rpc = new RpcConnection(toServer, fromServer, (line, why) => assert.fail(`stray line (${why}): ${line}`));
  return {
    rpc,
    received: () => (messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((resolve) => waiting.push(resolve))),
    send: (message) => fromServer.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n'),
    pendingMessages: () => messages.length,
  };
}

test('a terminal sends its input within the credit granted, resizes with its id, and ends its stdin after the input', async () => {
  const server = fakeServer();
  const output = [];
  const terminal = new Terminal((onOutput) =>
    server.rpc.start('terminal.open', { leaseId: LEASE, rows: 24, cols: 80 }, { onOutput, stdin: true }),
  );
  const open = await server.received();
  assert.equal(open.method, 'terminal.open');
  const { id } = open;

  assert.equal(terminal.resize(40, 132), true);
  assert.deepEqual(await server.received(), { jsonrpc: '2.0', method: 'terminal/resize', params: { rows: 40, cols: 132, id } });

  // Nothing is sent before the server grants credit; then at most what it granted.
  const written = terminal.write(new Uint8Array(2500).fill(0x62));
  const typed = terminal.write('tail');
  terminal.end();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(server.pendingMessages(), 0, 'stdin was sent before any credit');
  let sent = 0;
  let granted = 0;
  for (const grant of [1000, 1000, 1000]) {
    server.send({ method: 'exec/stdinCredit', params: { id, bytes: grant } });
    granted += grant;
    // Each grant is spent at once: on the first piece, then on the rest of it and the second.
    while (sent < Math.min(granted, 2504)) {
      const chunk = await server.received();
      assert.equal(chunk.method, 'exec/stdin');
      assert.equal(chunk.params.id, id);
      sent += Buffer.from(chunk.params.data, 'base64').length;
      assert.ok(sent <= granted, `${sent} bytes sent on ${granted} granted`);
    }
  }
  await written;
  await typed;
  assert.equal(sent, 2504);
  assert.deepEqual(await server.received(), { jsonrpc: '2.0', method: 'exec/stdinEnd', params: { id } });

  server.send({ method: 'exec/output', params: { id, stream: 'stdout', data: Buffer.from('24 80\r\n').toString('base64') } });
  const status = { exitCode: 7, signal: null, timedOut: false, stdoutTruncated: false, stderrTruncated: false, message: 'exit code 7' };
  server.send({ id, result: status });
  for await (const chunk of terminal) output.push(Buffer.from(chunk.data).toString());
  assert.deepEqual(await terminal.result, status);
  assert.deepEqual(output, ['24 80\r\n']);
  assert.equal(terminal.resize(10, 10), false, 'a resize after the end is not sent');
});

test('cancel() sends $/cancelRequest for the terminal and drops the input not sent yet', async () => {
  const server = fakeServer();
  const terminal = new Terminal((onOutput) =>
    server.rpc.start('terminal.open', { leaseId: LEASE, rows: 24, cols: 80 }, { onOutput, stdin: true }),
  );
  const { id } = await server.received();
  const written = terminal.write('never granted');
  terminal.cancel();
  assert.deepEqual(await server.received(), { jsonrpc: '2.0', method: '$/cancelRequest', params: { id } });
  await written;
  server.send({ id, error: { code: ErrorCode.RequestCancelled, message: 'cancelled', data: { reason: 'cancelled' } } });
  await assert.rejects(terminal.result, (error) => error.code === ErrorCode.RequestCancelled && error.method === 'terminal.open');
  server.send({ method: 'exec/stdinCredit', params: { id, bytes: 100 } });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(server.pendingMessages(), 0, 'input was sent after the cancellation');
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

test('connect: a client of a server on a Unix socket calls it, and close() ends only its own connection', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasebox-client-socket-'));
  const socket = join(dir, 'serve.sock');
  const server = spawn(binary, ['serve', '--listen', `unix:${socket}`], { env: offline(), stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    for (let waited = 0; !existsSync(socket) && waited < 20_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const first = await LeaseboxClient.connect(socket);
    const second = await LeaseboxClient.connect(socket);
    assert.equal(first.pid, undefined);
    assert.equal((await first.validateConfig(CONFIG)).ok, true);
    await first.close();
    await assert.rejects(first.health(), (error) => error.reason === 'client-closed');
    assert.equal((await second.health()).cluster, 'none', 'the server still serves the other connection');
    await second.close();
    assert.equal(server.exitCode, null, 'closing a connection does not end the server');
  } finally {
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('connect to a socket nobody listens on rejects with spawn-failed naming the path', async () => {
  await assert.rejects(LeaseboxClient.connect('/nonexistent/leasebox.sock'), (error) => {
    assert.equal(error.reason, 'spawn-failed');
    assert.match(error.message, /unix:\/nonexistent\/leasebox\.sock/);
    return true;
  });
});
