// The plugin's overhead: the same calls made through the forked worker (as
// the Paperclip server makes them, over stdio, see
// test/support/paperclip-host.mjs) and through `LeaseboxClient` straight to
// a `leasebox serve` spawned with the same settings, in one run, interleaved
// round by round (the side that goes first alternates), so the machine's
// noise falls on both alike.
//
//   LEASEBOX_BIN=/path/to/leasebox \
//   LEASEBOX_E2E_KUBECONFIG=/path/to/kubeconfig \
//     npm run bench
//
// Two figures:
// - acquire to first output: from sending the acquire to receiving the
//   first output chunk of `echo first`, run as soon as the acquire returns.
//   Plugin: `environmentAcquireLease`, then `environmentExecute`, until the
//   first `execute.log` notification of that invocation. Serve:
//   `acquireLease`, then `executeStream`, until its first chunk. The two
//   parts (the acquire, and the exec to its first output) are printed too.
//   Each lease is released after its round, untimed, and the next round
//   waits until its pod is gone, so rounds never overlap on the node.
// - a warm command: on one lease per side, acquired beforehand, the round
//   trip of an execute of `true`, from the request to its result.
//
// Rounds: ROUNDS_ACQUIRE (default 14), ROUNDS_WARM (default 100); the
// defaults take about 6 minutes on a 2-core VM with the cluster on it. One
// untimed acquire round per side comes first (the worker starts its serve,
// the tenant namespaces are made, the module cache is warm), and one
// untimed execute on each warm lease.
// Companies `bench-plugin` and `bench-serve`: their namespaces
// (`leasebox-e2e-bench-…`) are deleted before and after, with kubectl
// (KUBECTL, else /usr/bin/kubectl). Needs a cluster with the
// `busybox:k8s-real` image, as the e2e suite does. Not part of `npm test`.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { LeaseboxClient } from '@leasebox/client';

import { PaperclipHost, workerEnvironment } from '../test/support/paperclip-host.mjs';

const NAMESPACE_PREFIX = 'leasebox-e2e-';
const PLUGIN_COMPANY = 'bench-plugin';
const SERVE_COMPANY = 'bench-serve';
/** How long a released lease's pod may take to be gone before the run fails. */
const POD_GONE_WAIT_MS = 120_000;
const POLL_MS = 250;
/** How many times the plugin's release is called for one lease (it answers "not confirmed gone" after 25 s). */
const RELEASE_ATTEMPTS = 5;

const repository = fileURLToPath(new URL('../../../', import.meta.url));

const binary = process.env.LEASEBOX_BIN;
const kubeconfig = process.env.LEASEBOX_E2E_KUBECONFIG;
if (!binary || !kubeconfig) {
  console.error(
    'overhead bench: LEASEBOX_BIN and LEASEBOX_E2E_KUBECONFIG must be set (the leasebox binary, and the kubeconfig of a disposable cluster), e.g.\n' +
      '  LEASEBOX_BIN=target/debug/leasebox LEASEBOX_E2E_KUBECONFIG=/path/to/kubeconfig npm run bench',
  );
  process.exit(2);
}
const roundsAcquire = roundsFrom('ROUNDS_ACQUIRE', 14);
const roundsWarm = roundsFrom('ROUNDS_WARM', 100);
const kubectlBinary = process.env.KUBECTL || '/usr/bin/kubectl';

async function kubectl(...args) {
  try {
    return (await promisify(execFile)(kubectlBinary, ['--kubeconfig', kubeconfig, ...args], { timeout: 240_000 })).stdout;
  } catch (error) {
    throw new Error(`kubectl ${args.join(' ')} failed (${kubectlBinary}; set KUBECTL to another kubectl): ${error.stderr || error.message}`);
  }
}

/** The e2e suite's configuration (pod backend, busybox), as an environment of the plugin gives it: no connection named. */
function environmentConfig() {
  const config = JSON.parse(readFileSync(join(repository, 'tests/e2e/configs/base.json'), 'utf8'));
  delete config.inCluster;
  delete config.kubeconfig;
  return config;
}

const namespaces = [PLUGIN_COMPANY, SERVE_COMPANY].map((company) => `${NAMESPACE_PREFIX}${company}`);

const dir = mkdtempSync(join(tmpdir(), 'leasebox-paperclip-bench-'));
const settingsFile = join(dir, 'settings.yaml');
writeFileSync(settingsFile, `fence:\n  namespacePrefix: ${NAMESPACE_PREFIX}\n`);

const runStarted = performance.now();
const loadAtStart = loadavg();
let host;
let client;
const held = [];
try {
  console.log(`deleting ${namespaces.join(', ')} (left by an earlier run)`);
  await kubectl('delete', 'namespace', ...namespaces, '--ignore-not-found', '--wait=true', '--timeout=180s');

  host = await PaperclipHost.start({ instanceConfig: { leaseboxBin: binary, kubeconfig, settingsFile } });
  // The worker's serve runs with the worker's environment; this one gets the same.
  client = await LeaseboxClient.spawn({
    binary,
    args: ['--settings', settingsFile, '--kubeconfig', kubeconfig],
    env: workerEnvironment(host.manifest.id),
  });
  const sides = [pluginSide(host, environmentConfig()), serveSide(client, environmentConfig())];

  console.log('warm-up: one untimed round per side');
  for (const side of sides) {
    await acquireRound(side, 'warm-up');
  }

  const acquireTimes = new Map(sides.map((side) => [side.name, { total: [], acquire: [], exec: [] }]));
  for (let round = 0; round < roundsAcquire; round += 1) {
    for (const side of inTurn(sides, round)) {
      const timed = await acquireRound(side, `round-${round}`);
      const series = acquireTimes.get(side.name);
      series.total.push(timed.total);
      series.acquire.push(timed.acquire);
      series.exec.push(timed.exec);
    }
    console.log(`acquire round ${round + 1}/${roundsAcquire} done`);
  }

  const warmLeases = new Map();
  for (const side of sides) {
    const lease = await side.acquire('warm');
    held.push({ side, lease });
    warmLeases.set(side.name, lease);
    // An untimed call first: each side's first exec into a new pod.
    await warmExec(side, lease);
  }
  const warmTimes = new Map(sides.map((side) => [side.name, []]));
  for (let round = 0; round < roundsWarm; round += 1) {
    for (const side of inTurn(sides, round)) {
      warmTimes.get(side.name).push(await warmExec(side, warmLeases.get(side.name)));
    }
  }
  console.log(`warm rounds done (${roundsWarm})`);

  const rows = [
    ['acquire to first output', (side) => acquireTimes.get(side).total],
    ['  of it: acquire', (side) => acquireTimes.get(side).acquire],
    ['  of it: exec to first output', (side) => acquireTimes.get(side).exec],
    ['warm execute `true`', (side) => warmTimes.get(side)],
  ];
  printTable(rows);
  console.log('\nby round, in order (ms):');
  for (const side of sides) {
    for (const [part, values] of [['acquire to first output', acquireTimes.get(side.name).total], ['acquire', acquireTimes.get(side.name).acquire]]) {
      console.log(`  ${side.name} ${part}: ${values.map((value) => value.toFixed(1)).join(' ')}`);
    }
  }
  const seconds = ((performance.now() - runStarted) / 1000).toFixed(1);
  const load = (averages) => averages.map((value) => value.toFixed(2)).join(' ');
  console.log(`\nrun took ${seconds} s; load average at start ${load(loadAtStart)}, at end ${load(loadavg())}`);
  console.log(`binary ${binary}; node ${process.version}; ${new Date().toISOString()}`);
  while (held.length > 0) {
    const { side, lease } = held.pop();
    await releaseUntilGone(side, lease);
  }
} catch (error) {
  console.error(`overhead bench failed: ${error instanceof Error ? error.stack : String(error)}`);
  if (host !== undefined && host.stderr.length > 0) {
    console.error(`the worker's last stderr lines:\n${host.stderr.slice(-10).join('\n')}`);
  }
  process.exitCode = 1;
} finally {
  for (const { side, lease } of held) {
    await side.release(lease).catch((error) => console.error(`releasing ${lease.id} failed: ${error.message}`));
  }
  await host?.shutdown().catch((error) => console.error(`the worker did not shut down cleanly: ${error.message}`));
  await client?.close().catch((error) => console.error(`leasebox serve did not end cleanly: ${error.message}`));
  await kubectl('delete', 'namespace', ...namespaces, '--ignore-not-found', '--wait=false').catch((error) =>
    console.error(error.message),
  );
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The plugin's side: each call a hook of the forked worker. A lease is
 * `{id, namespace, handle}`, the handle being what the host keeps and hands
 * back (`PluginEnvironmentLease`).
 */
function pluginSide(host, config) {
  const environmentId = `env-${PLUGIN_COMPANY}`;
  const hook = (method, params) => host.environment(method, PLUGIN_COMPANY, { environmentId, config, ...params });
  const firstLogOf = firstExecuteLogs(host);
  return {
    name: 'plugin',
    async acquire(runId) {
      const handle = await hook('environmentAcquireLease', { runId });
      return { id: handle.providerLeaseId, namespace: handle.metadata.namespace, handle };
    },
    run(lease, command) {
      const { invocationId, result } = host.startEnvironment('environmentExecute', PLUGIN_COMPANY, {
        environmentId,
        config,
        lease: lease.handle,
        command,
      });
      const firstOutput = firstLogOf(invocationId);
      const done = result.then((answer) => ({ exitCode: answer.exitCode, stdout: answer.stdout }));
      return { firstOutput, done };
    },
    async release(lease) {
      // A release not confirmed within the server's call budget is called again, as the Paperclip server does.
      for (let attempt = 1; ; attempt += 1) {
        try {
          await hook('environmentReleaseLease', { providerLeaseId: lease.id, leaseMetadata: lease.handle.metadata });
          return;
        } catch (error) {
          if (attempt >= RELEASE_ATTEMPTS || !/not confirmed gone/.test(error.message)) throw error;
          console.log(`plugin: release of ${lease.id} not confirmed yet (attempt ${attempt}); calling it again`);
        }
      }
    },
  };
}

/** The same calls through `LeaseboxClient` to its own `leasebox serve`; the requests carry what the plugin's carry. */
function serveSide(client, environment) {
  // What the plugin hands leasebox for an environment that names no connection.
  const config = { ...environment, inCluster: true };
  return {
    name: 'serve',
    async acquire(runId) {
      const acquired = await client.acquireLease({ config, companyId: SERVE_COMPANY, runId, adapterType: config.adapterType });
      return { id: acquired.providerLeaseId, namespace: acquired.metadata.namespace };
    },
    run(lease, command) {
      const stream = client.executeStream({ providerLeaseId: lease.id, namespace: lease.namespace, command });
      let outputArrived;
      const firstOutput = new Promise((resolve) => {
        outputArrived = resolve;
      });
      const done = (async () => {
        const stdout = [];
        for await (const chunk of stream) {
          outputArrived(performance.now());
          if (chunk.stream === 'stdout') stdout.push(Buffer.from(chunk.data));
        }
        const status = await stream.result;
        return { exitCode: status.exitCode, stdout: Buffer.concat(stdout).toString() };
      })();
      return { firstOutput, done };
    },
    async release(lease) {
      await client.releaseLease({ providerLeaseId: lease.id, namespace: lease.namespace });
    },
  };
}

/**
 * For each invocation id, a promise of the time its first `execute.log`
 * notification arrived: taken as the host reads the line, as the serve side
 * takes it as its first chunk is handed over.
 */
function firstExecuteLogs(host) {
  const waiting = new Map();
  const receive = host.receive.bind(host);
  host.receive = (line) => {
    const seen = host.notifications.length;
    receive(line);
    for (const notification of host.notifications.slice(seen)) {
      const arrived = waiting.get(notification.paperclipInvocationId);
      if (notification.method === 'execute.log' && arrived !== undefined) {
        waiting.delete(notification.paperclipInvocationId);
        arrived(performance.now());
      }
    }
  };
  return (invocationId) => new Promise((resolve) => waiting.set(invocationId, resolve));
}

/** One timed acquire and `echo first`; the lease released and its pod gone before it returns (untimed). */
async function acquireRound(side, runId) {
  const started = performance.now();
  const lease = await side.acquire(`bench-${runId}`);
  const acquired = performance.now();
  held.push({ side, lease });
  const run = side.run(lease, 'echo first');
  const firstOutput = await Promise.race([
    run.firstOutput,
    run.done.then((result) => {
      throw new Error(`${side.name}: \`echo first\` ended without output: ${JSON.stringify(result)}`);
    }),
  ]);
  const result = await run.done;
  if (result.exitCode !== 0 || result.stdout !== 'first\n') {
    throw new Error(`${side.name}: \`echo first\` gave ${JSON.stringify(result)}`);
  }
  await releaseUntilGone(side, lease);
  held.splice(held.findIndex((entry) => entry.lease === lease), 1);
  return { total: firstOutput - started, acquire: acquired - started, exec: firstOutput - acquired };
}

/** One timed execute of `true`, request to result. */
async function warmExec(side, lease) {
  const started = performance.now();
  const result = await side.run(lease, 'true').done;
  const took = performance.now() - started;
  if (result.exitCode !== 0) {
    throw new Error(`${side.name}: \`true\` gave ${JSON.stringify(result)}`);
  }
  return took;
}

/** Releases the lease, then waits until kubectl finds no pod of it. */
async function releaseUntilGone(side, lease) {
  await side.release(lease);
  const deadline = Date.now() + POD_GONE_WAIT_MS;
  for (;;) {
    const pods = await kubectl('get', 'pods', '-n', lease.namespace, '-l', `leasebox.dev/lease=${lease.id}`, '-o', 'name', '--ignore-not-found');
    if (pods.trim() === '') return;
    if (Date.now() >= deadline) {
      throw new Error(`${side.name}: the pod of lease ${lease.id} is still there ${POD_GONE_WAIT_MS / 1000} s after its release: ${pods.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The sides in the order of this round: the first one alternates. */
function inTurn(sides, round) {
  return round % 2 === 0 ? sides : [...sides].reverse();
}

/** The value at fraction `p` of the sorted values, nearest rank. */
function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}

function printTable(rows) {
  const header = ['figure', 'path', 'n', 'p50 ms', 'p95 ms', 'mean ms', 'min ms', 'max ms', 'p50 plugin/serve', 'mean plugin/serve'];
  const lines = [header];
  for (const [figure, series] of rows) {
    const plugin = summary(series('plugin'));
    const serve = summary(series('serve'));
    const ms = (value) => value.toFixed(1);
    const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
    for (const [path, s] of [['plugin', plugin], ['serve', serve]]) {
      const ratios = path === 'plugin' ? [ratio(plugin.p50, serve.p50), ratio(plugin.mean, serve.mean)] : ['', ''];
      lines.push([figure, path, String(s.n), ms(s.p50), ms(s.p95), ms(s.mean), ms(s.min), ms(s.max), ...ratios]);
    }
  }
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column].length)));
  console.log('');
  for (const line of lines) {
    console.log(line.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join(' | '));
  }
}

function roundsFrom(variable, fallback) {
  const text = process.env[variable];
  if (text === undefined || text === '') return fallback;
  const rounds = Number(text);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`overhead bench: ${variable} must be a whole number of rounds, at least 1, not \`${text}\``);
    process.exit(2);
  }
  return rounds;
}
