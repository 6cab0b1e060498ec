// A lease's whole life through the client on a real cluster: acquire,
// realize a workspace from a tar, execute (output, stdin, exit codes,
// streaming, timeout, cancellation), a terminal, detached processes, files
// and tree copies both ways, release, and the pod gone.
//
// Runs when LEASEBOX_E2E_KUBECONFIG is set (the kubeconfig of a disposable
// cluster with the `busybox:k8s-real` image); says it is skipped otherwise.
// Needs LEASEBOX_BIN, and kubectl (KUBECTL, else ../shared/k8s-real/kubectl
// beside the repository, else kubectl on the PATH) for the checks and the
// cleanup of its namespace.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { ErrorCode, LeaseboxClient, LeaseboxError } from '../dist/index.js';

const binary = process.env.LEASEBOX_BIN;
if (!binary) {
  throw new Error('LEASEBOX_BIN is not set: set it to the leasebox binary, e.g. LEASEBOX_BIN=target/debug/leasebox npm test');
}
const kubeconfig = process.env.LEASEBOX_E2E_KUBECONFIG;

const repository = fileURLToPath(new URL('../../../', import.meta.url));
const NAMESPACE_PREFIX = 'leasebox-e2e-';
const COMPANY = 'ts-client';
const NAMESPACE = `${NAMESPACE_PREFIX}${COMPANY}`;

if (!kubeconfig) {
  test('a lease through the client on a real cluster', {
    skip: 'LEASEBOX_E2E_KUBECONFIG is not set; set it to the kubeconfig of a disposable cluster to run this',
  });
} else {
  lifecycle();
}

function lifecycle() {
  const kubectlBinary = findKubectl();
  const kubectl = async (...args) => {
    try {
      return (await promisify(execFile)(kubectlBinary, ['--kubeconfig', kubeconfig, ...args], { timeout: 240_000 })).stdout;
    } catch (error) {
      throw new Error(`kubectl ${args.join(' ')} failed (${kubectlBinary}; set KUBECTL to another kubectl): ${error.stderr || error.message}`);
    }
  };

  /** The e2e suite's configuration (pod backend, busybox), on the server's own connection. */
  const config = JSON.parse(readFileSync(`${repository}tests/e2e/configs/base.json`, 'utf8'));
  config.inCluster = true;
  delete config.kubeconfig;

  let client;
  let lease;
  const leaseId = () => {
    assert.ok(lease, 'no lease: acquireLease failed, see the first failure');
    return lease.providerLeaseId;
  };

  before(async () => {
    // A namespace left by an earlier run goes first: it may be terminating.
    await kubectl('delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=true', '--timeout=180s');
    client = await LeaseboxClient.spawn({
      binary,
      args: ['--namespace-prefix', NAMESPACE_PREFIX, '--kubeconfig', kubeconfig],
    });
  });

  after(async () => {
    if (lease && client) {
      await client.releaseLease({ providerLeaseId: lease.providerLeaseId }).catch(() => {});
    }
    await client?.close();
    await kubectl('delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=false');
  });

  test('health: the server has a cluster', async () => {
    const health = await client.health();
    assert.equal(health.cluster, 'configured');
  });

  test('probe: the cluster can take leases', async () => {
    const probe = await client.probe(config, { companyId: COMPANY });
    assert.equal(probe.ok, true, probe.summary);
    assert.match(probe.summary, /^all \d+ checks passed: /);
    assert.ok(probe.metadata.checks.length > 0);
  });

  test('acquireLease: a ready pod in the tenant namespace', async () => {
    lease = await client.acquireLease({ config, companyId: COMPANY, runId: 'ts-client-run' });
    assert.match(lease.providerLeaseId, /^lb-/);
    assert.equal(lease.metadata.id, lease.providerLeaseId);
    assert.equal(lease.metadata.namespace, NAMESPACE);
    assert.equal(lease.metadata.runId, 'ts-client-run');
    assert.equal(lease.metadata.backend, 'pod');
    const phase = (await kubectl('get', 'pod', lease.metadata.pod, '-n', NAMESPACE, '-o', 'jsonpath={.status.phase}')).trim();
    assert.equal(phase, 'Running');
  });

  test('realizeWorkspace unpacks a tar; execute reads the file back', async () => {
    const content = 'hello from the workspace\nsecond line ✓\n';
    const tar = tarOfOneFile('notes.txt', content);
    const { cwd } = await client.realizeWorkspace({ providerLeaseId: leaseId(), tar });
    assert.equal(cwd, '/workspace');
    const read = await client.execute({ providerLeaseId: leaseId(), command: 'cat notes.txt', cwd });
    assert.equal(read.exitCode, 0, read.stderr);
    assert.equal(read.stdout, content);

    const elsewhere = await client.realizeWorkspace({ providerLeaseId: leaseId(), tar, path: '/tmp/other/dir' });
    assert.equal(elsewhere.cwd, '/tmp/other/dir');
    const again = await client.execute({ providerLeaseId: leaseId(), args: ['cat', '/tmp/other/dir/notes.txt'] });
    assert.equal(again.stdout, content);
  });

  test('realizeWorkspace with bytes that are not a tar rejects with unpack-failed', async () => {
    const garbage = new Uint8Array(2048).fill(0x41);
    await assert.rejects(client.realizeWorkspace({ providerLeaseId: leaseId(), tar: garbage, path: '/tmp/garbage' }), (error) => {
      assert.ok(error instanceof LeaseboxError, String(error));
      assert.equal(error.reason, 'unpack-failed');
      assert.equal(error.code, null);
      assert.notEqual(error.data.status.exitCode, 0);
      return true;
    });
  });

  test('execute: stdin reaches the command, byte for byte', async () => {
    const text = await client.execute({ providerLeaseId: leaseId(), args: ['sh', '-c', 'tr a-z A-Z'], stdin: 'shout this\n' });
    assert.equal(text.exitCode, 0, text.stderr);
    assert.equal(text.stdout, 'SHOUT THIS\n');

    const bytes = new Uint8Array(9 * 1024 * 1024 + 7).map((_, i) => (i * 31) % 256);
    const counted = await client.execute({ providerLeaseId: leaseId(), command: 'wc -c', stdin: bytes });
    assert.equal(counted.stdout.trim(), String(bytes.length));
  });

  test('execute: env and cwd', async () => {
    const result = await client.execute({
      providerLeaseId: leaseId(),
      command: 'echo "$GREETING from $(pwd)"',
      env: { GREETING: 'hi' },
      cwd: '/tmp',
    });
    assert.equal(result.stdout, 'hi from /tmp\n');
  });

  test('execute: a non-zero exit code is a result, not an error', async () => {
    const result = await client.execute({ providerLeaseId: leaseId(), command: 'echo failing >&2; exit 3' });
    assert.equal(result.exitCode, 3);
    assert.equal(result.timedOut, false);
    assert.equal(result.signal, null);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'failing\n');
  });

  test('executeStream: stdout and stderr chunks apart, then the status', async () => {
    const run = client.executeStream({
      providerLeaseId: leaseId(),
      command: 'for i in 1 2 3; do echo out-$i; echo err-$i >&2; sleep 0.2; done; exit 5',
    });
    const received = { stdout: [], stderr: [] };
    let chunks = 0;
    for await (const chunk of run) {
      assert.ok(chunk.data instanceof Uint8Array);
      received[chunk.stream].push(chunk.data);
      chunks += 1;
    }
    const status = await run.result;
    assert.equal(status.exitCode, 5);
    assert.ok(chunks >= 2, `${chunks} chunks`);
    assert.equal(Buffer.concat(received.stdout).toString(), 'out-1\nout-2\nout-3\n');
    assert.equal(Buffer.concat(received.stderr).toString(), 'err-1\nerr-2\nerr-3\n');
  });

  test('execute: a command past timeoutMs is killed and timedOut', async () => {
    const started = Date.now();
    const result = await client.execute({ providerLeaseId: leaseId(), command: 'sleep 5; echo too-late', timeoutMs: 1000 });
    assert.equal(result.timedOut, true, JSON.stringify(result));
    assert.equal(result.stdout, '');
    assert.ok(Date.now() - started < 5000, `the timeout took ${Date.now() - started} ms`);
  });

  test('an aborted execute is cancelled (-32800) and its command killed', async () => {
    const controller = new AbortController();
    const run = client.executeStream({ providerLeaseId: leaseId(), command: 'echo started; sleep 4000 & wait', signal: controller.signal });
    const seen = [];
    const iterated = (async () => {
      for await (const chunk of run) {
        seen.push(Buffer.from(chunk.data).toString());
        controller.abort();
      }
    })();
    await assert.rejects(run.result, (error) => {
      assert.ok(error instanceof LeaseboxError, String(error));
      assert.equal(error.code, ErrorCode.RequestCancelled);
      assert.equal(error.reason, 'cancelled');
      return true;
    });
    await assert.rejects(iterated, (error) => error.reason === 'cancelled');
    assert.equal(seen.join(''), 'started\n');
    const processes = await client.execute({ providerLeaseId: leaseId(), args: ['ps', '-o', 'pid,args'] });
    assert.doesNotMatch(processes.stdout, /sleep 4000/);
  });

  test('many executes at once, each with its own output', async () => {
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => client.execute({ providerLeaseId: leaseId(), command: `sleep 0.$i; echo run-${i}; exit ${i}` })),
    );
    runs.forEach((run, i) => {
      assert.equal(run.stdout, `run-${i}\n`);
      assert.equal(run.exitCode, i);
    });
  });

  test('openTerminal: a program on a terminal of the size asked, resized, reading a line typed, its exit code', async () => {
    const terminal = client.openTerminal({
      providerLeaseId: leaseId(),
      args: ['sh', '-c', 'stty size; read x; echo got:$x; exit 7'],
      rows: 33,
      cols: 101,
      term: 'xterm',
    });
    let output = '';
    const reading = (async () => {
      for await (const chunk of terminal) {
        assert.equal(chunk.stream, 'stdout', 'a terminal merges stderr into stdout');
        output += Buffer.from(chunk.data).toString();
      }
    })();
    reading.catch(() => {});
    // A failed open rejects the race at once with its error.
    await Promise.race([until(() => output.includes('33 101'), 60_000, () => `no "33 101" in ${JSON.stringify(output)}`), terminal.result]);
    assert.equal(terminal.resize(40, 120), true);
    await terminal.write('hello\r');
    const status = await terminal.result;
    await reading;
    assert.equal(status.exitCode, 7, JSON.stringify({ status, output }));
    assert.equal(status.timedOut, false);
    assert.match(output, /^33 101\r?$/m);
    assert.match(output, /got:hello/);
    assert.equal(terminal.resize(10, 10), false, 'the terminal has ended');
  });

  test('startProcess, listProcesses, attachProcess and killProcess: detached processes through their lives', async () => {
    const started = await client.startProcess({
      providerLeaseId: leaseId(),
      command: 'echo out-1; echo err-1 >&2; sleep 1; echo out-2; exit 3',
    });
    assert.match(started.id, /\S/);
    assert.ok(started.argv.length > 0, JSON.stringify(started));
    assert.equal(started.exitCode, null);
    const listed = await client.listProcesses({ providerLeaseId: leaseId() });
    assert.ok(listed.some((process) => process.id === started.id), JSON.stringify(listed));

    const attached = client.attachProcess({ providerLeaseId: leaseId(), processId: started.id });
    const received = { stdout: [], stderr: [] };
    for await (const chunk of attached) received[chunk.stream].push(chunk.data);
    const status = await attached.result;
    assert.equal(status.exitCode, 3, JSON.stringify(status));
    assert.equal(Buffer.concat(received.stdout).toString(), 'out-1\nout-2\n');
    assert.equal(Buffer.concat(received.stderr).toString(), 'err-1\n');

    // From an offset, without following: what is kept from there, at once.
    const tail = client.attachProcess({ providerLeaseId: leaseId(), processId: started.id, stdoutOffset: 6, stderrOffset: 6, follow: false });
    const rest = [];
    for await (const chunk of tail) rest.push(`${chunk.stream}:${Buffer.from(chunk.data).toString()}`);
    assert.deepEqual(rest, ['stdout:out-2\n']);
    assert.equal((await tail.result).exitCode, 3);
    const ended = (await client.listProcesses({ providerLeaseId: leaseId() })).find((process) => process.id === started.id);
    assert.equal(ended.running, false);
    assert.equal(ended.exitCode, 3);
    assert.equal(ended.stdoutBytes, 12);
    assert.equal(ended.stderrBytes, 6);

    const sleeper = await client.startProcess({ providerLeaseId: leaseId(), args: ['sleep', '600'] });
    assert.equal(sleeper.running, true);
    const killed = await client.killProcess({ providerLeaseId: leaseId(), processId: sleeper.id });
    assert.equal(killed.id, sleeper.id);
    assert.equal(killed.running, false);
    assert.equal(killed.exitCode, 128 + 15, JSON.stringify(killed));
    const processes = await client.execute({ providerLeaseId: leaseId(), args: ['ps', '-o', 'pid,args'] });
    assert.doesNotMatch(processes.stdout, /sleep 600/);
  });

  test('writeFile, statPath, readFile, listDirectory, removePath: a file of mode 0600, byte for byte', async () => {
    const path = '/workspace/ts-client-data.bin';
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7 + (i >> 8)) % 256);
    const written = await client.writeFile({ providerLeaseId: leaseId(), path, data: bytes, mode: 0o600 });
    assert.deepEqual(written, { path, bytes: bytes.length, mode: '0600' });

    const stat = await client.statPath({ providerLeaseId: leaseId(), path });
    assert.equal(stat.path, path);
    assert.equal(stat.type, 'file');
    assert.equal(stat.size, bytes.length);
    assert.equal(stat.mode, '0600');
    assert.equal(stat.linkTarget, null);
    assert.ok(Math.abs(stat.modified - Date.now() / 1000) < 600, `modified ${stat.modified}`);

    const read = await client.readFile({ providerLeaseId: leaseId(), path });
    assert.ok(read.data instanceof Uint8Array);
    assert.equal(Buffer.compare(Buffer.from(read.data), Buffer.from(bytes)), 0, 'the bytes read back differ');
    assert.equal(read.size, bytes.length);
    assert.equal(read.mode, '0600');

    const text = await client.writeFile({ providerLeaseId: leaseId(), path: '/workspace/ts-client-note.txt', data: 'note ✓\n' });
    assert.equal(text.mode, '0644');
    assert.equal(Buffer.from((await client.readFile({ providerLeaseId: leaseId(), path: text.path })).data).toString(), 'note ✓\n');

    const listed = await client.listDirectory({ providerLeaseId: leaseId(), path: '/workspace' });
    const entry = listed.find((e) => e.path === path);
    assert.ok(entry, JSON.stringify(listed.map((e) => e.path)));
    assert.equal(entry.type, 'file');
    assert.equal(entry.mode, '0600');

    assert.deepEqual(await client.removePath({ providerLeaseId: leaseId(), path }), { removed: true });
    assert.deepEqual(await client.removePath({ providerLeaseId: leaseId(), path }), { removed: false });
    assert.equal(await client.statPath({ providerLeaseId: leaseId(), path }), null);
    await client.removePath({ providerLeaseId: leaseId(), path: text.path });

    await assert.rejects(client.statPath({ providerLeaseId: leaseId(), path: '/etc/passwd' }), (error) => {
      assert.ok(error instanceof LeaseboxError, String(error));
      assert.equal(error.code, ErrorCode.PolicyRefused);
      assert.equal(error.reason, 'not-allowed');
      assert.match(error.message, /file-roots/);
      return true;
    });
  });

  test('syncIn of a local tree with a glob excluded, then syncOut to another local directory, byte for byte', async () => {
    const local = mkdtempSync(join(tmpdir(), 'leasebox-ts-sync-'));
    try {
      const source = join(local, 'source');
      mkdirSync(join(source, 'sub'), { recursive: true });
      const binary = new Uint8Array(200_000).map((_, i) => (i * 13) % 251);
      writeFileSync(join(source, 'a.txt'), 'alpha\n');
      writeFileSync(join(source, 'sub', 'b.bin'), binary);
      writeFileSync(join(source, 'skip.log'), 'left out\n');
      writeFileSync(join(source, 'sub', 'deep.log'), 'left out too\n');

      const output = [];
      const sent = await client.syncIn({
        providerLeaseId: leaseId(),
        operations: [
          {
            operationId: 'tree',
            files: [{ sourcePath: source, targetPath: '/workspace/ts-synced', kind: 'directory', exclude: ['*.log'] }],
            postUploadCommands: [{ command: 'ls sub' }],
          },
        ],
        onOutput: (chunk) => output.push(Buffer.from(chunk.data).toString()),
      });
      assert.equal(sent.failedCommand, undefined, JSON.stringify(sent));
      assert.equal(sent.operations.length, 1);
      const [tree] = sent.operations;
      assert.equal(tree.operationId, 'tree');
      assert.equal(tree.filesTransferred, 2, JSON.stringify(tree));
      assert.equal(tree.bytesTransferred, 6 + binary.length);
      assert.equal(tree.skipped, 0);
      assert.equal(tree.postUploadCommands.length, 1);
      assert.equal(tree.postUploadCommands[0].exitCode, 0);
      assert.equal(output.join(''), 'b.bin\n', 'the command runs in the operation\'s target directory');

      const target = join(local, 'back');
      const received = await client.syncOut({
        providerLeaseId: leaseId(),
        operations: [{ operationId: 'back', files: [{ sourcePath: '/workspace/ts-synced', targetPath: target, kind: 'directory' }] }],
      });
      assert.deepEqual(received.operations, [
        { operationId: 'back', filesTransferred: 2, bytesTransferred: 6 + binary.length, skipped: 0 },
      ]);
      assert.equal(readFileSync(join(target, 'a.txt'), 'utf8'), 'alpha\n');
      assert.equal(Buffer.compare(readFileSync(join(target, 'sub', 'b.bin')), Buffer.from(binary)), 0, 'b.bin differs');
      assert.equal(existsSync(join(target, 'skip.log')), false);
      assert.equal(existsSync(join(target, 'sub', 'deep.log')), false);

      // The first command that does not exit 0 stops the sync and is named.
      const stopped = await client.syncIn({
        providerLeaseId: leaseId(),
        operations: [
          {
            operationId: 'one',
            files: [{ sourcePath: join(source, 'a.txt'), targetPath: '/workspace/ts-one/a.txt', kind: 'file', mode: '0600' }],
            postUploadCommands: [{ command: 'test "$(stat -c %a a.txt)" = 600' }, { command: 'exit 4' }, { command: 'echo never' }],
          },
          { operationId: 'never', files: [{ sourcePath: join(source, 'a.txt'), targetPath: '/workspace/ts-never.txt', kind: 'file' }] },
        ],
      });
      assert.deepEqual(stopped.failedCommand, { operationId: 'one', command: 'exit 4', exitCode: 4, timedOut: false });
      assert.deepEqual(
        stopped.operations.map((operation) => [operation.operationId, operation.postUploadCommands.map((status) => status.exitCode)]),
        [['one', [0, 4]]],
      );
      assert.equal(await client.statPath({ providerLeaseId: leaseId(), path: '/workspace/ts-never.txt' }), null);

      // A mapping's mode is that of the files it writes here: a file mapping's one file, every file of a tree (its directories keep theirs).
      const modeOf = (path) => statSync(path).mode & 0o7777;
      const secret = join(local, 'secret.txt');
      const moded = await client.syncOut({
        providerLeaseId: leaseId(),
        operations: [
          {
            operationId: 'mode',
            files: [
              { sourcePath: '/workspace/ts-synced/a.txt', targetPath: secret, kind: 'file', mode: 0o600 },
              { sourcePath: '/workspace/ts-synced', targetPath: join(local, 'moded'), kind: 'directory', mode: '0640' },
            ],
          },
        ],
      });
      assert.equal(moded.operations[0].filesTransferred, 3, JSON.stringify(moded));
      assert.equal(readFileSync(secret, 'utf8'), 'alpha\n');
      assert.equal(modeOf(secret).toString(8), '600');
      assert.equal(modeOf(join(local, 'moded', 'a.txt')).toString(8), '640');
      assert.equal(modeOf(join(local, 'moded', 'sub', 'b.bin')).toString(8), '640');
      assert.equal(modeOf(join(local, 'moded', 'sub')), modeOf(join(target, 'sub')));
      await client.removePath({ providerLeaseId: leaseId(), path: '/workspace/ts-synced', recursive: true });
      await client.removePath({ providerLeaseId: leaseId(), path: '/workspace/ts-one', recursive: true });
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  test('the lease is listed and ready', async () => {
    const status = await client.leaseStatus({ providerLeaseId: leaseId() });
    assert.equal(status.phase, 'ready');
    const listed = await client.listLeases({ companyId: COMPANY });
    assert.deepEqual(
      listed.map((l) => l.id),
      [leaseId()],
    );
  });

  test('releaseLease deletes the pod; releasing again is alreadyGone', async () => {
    const pod = lease.metadata.pod;
    const id = leaseId();
    const released = await client.releaseLease({ providerLeaseId: leaseId() });
    assert.equal(released.alreadyGone, false);
    assert.ok(released.deleted.some((object) => object.kind === 'Pod' && object.name === pod), JSON.stringify(released.deleted));
    lease = undefined;

    let pods = '';
    for (let waited = 0; waited <= 60_000; waited += 1000) {
      pods = await kubectl('get', 'pods', '-n', NAMESPACE, '--ignore-not-found', '-o', 'name');
      if (!pods.includes(pod)) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    assert.doesNotMatch(pods, new RegExp(pod), `pod ${pod} is still there a minute after release`);
    assert.deepEqual(await client.listLeases({ companyId: COMPANY }), []);
    const again = await client.releaseLease({ providerLeaseId: id });
    assert.equal(again.alreadyGone, true);
  });
}

/**
 * A tar archive of one regular file `name` with `content` (ustar): a
 * 512-byte header, the content padded to 512 bytes, two zero blocks.
 */
function tarOfOneFile(name, content) {
  const body = Buffer.from(content, 'utf8');
  const header = Buffer.alloc(512);
  const field = (offset, length, text) => header.write(text, offset, length, 'ascii');
  const octal = (offset, length, value) => field(offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, body.length);
  octal(136, 12, Math.floor(Date.now() / 1000));
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  field(148, 8, checksum.toString(8).padStart(6, '0') + '\0 ');
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header, body, padding, Buffer.alloc(1024)]);
}

/** Resolves once `predicate()` holds; rejects after `ms` with `why()`. */
async function until(predicate, ms, why) {
  for (let waited = 0; !predicate(); waited += 50) {
    if (waited >= ms) throw new Error(`waited ${ms} ms: ${why()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function findKubectl() {
  const candidates = [process.env.KUBECTL, `${repository}../shared/k8s-real/kubectl`].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  if (found) return found;
  return 'kubectl';
}
