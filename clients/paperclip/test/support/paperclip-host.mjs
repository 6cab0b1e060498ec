// The Paperclip server's side of a plugin worker, as the server runs it
// (upstream server/src/services/plugin-worker-manager.ts, SDK 2026.916.1):
// the package's `paperclipPlugin.worker` forked with `child_process.fork`
// and a minimal environment, JSON-RPC 2.0 one message per line on its
// stdin/stdout (the SDK's own serializeMessage/parseMessage), `initialize`
// with the manifest and the instance config, every request carrying the
// invocation envelope, the worker's requests answered (`config.get` with the
// instance config; any other method -32601, as the real host does for an
// unregistered one), its notifications kept.

import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { parseMessage, serializeMessage } from '@paperclipai/plugin-sdk/protocol';

export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The environment Paperclip forks a worker with: an allow-list, nothing else of the server's. */
export function workerEnvironment(pluginId) {
  const env = { PAPERCLIP_PLUGIN_ID: pluginId, NODE_ENV: 'production' };
  for (const key of ['HOME', 'PATH', 'NODE_PATH', 'TZ']) {
    if (process.env[key] !== undefined) env[key] = process.env[key];
  }
  return env;
}

export class PaperclipHost {
  /**
   * Forks the package's worker and initializes it.
   * @param {object} options
   * @param {Record<string, unknown>} options.instanceConfig what `config.get` answers
   * @param {Record<string, string>} [options.env] the worker's whole environment (default the allow-list)
   */
  static async start({ instanceConfig, env }) {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
    const manifest = (await import(join(PACKAGE_DIR, pkg.paperclipPlugin.manifest))).default;
    const worker = join(PACKAGE_DIR, pkg.paperclipPlugin.worker);
    const child = fork(worker, [], {
      cwd: PACKAGE_DIR,
      stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
      env: env ?? workerEnvironment(manifest.id),
    });
    const host = new PaperclipHost(child, manifest, instanceConfig);
    host.initializeResult = await host.request('initialize', {
      manifest,
      config: instanceConfig,
      instanceInfo: { instanceId: 'leasebox-test-instance', hostVersion: '2026.916.1' },
      apiVersion: 1,
      databaseNamespace: null,
    });
    return host;
  }

  constructor(child, manifest, instanceConfig) {
    this.child = child;
    this.manifest = manifest;
    this.instanceConfig = instanceConfig;
    this.nextId = 1;
    this.pending = new Map();
    /** Every notification of the worker, in order: `{method, params, paperclipInvocationId}`. */
    this.notifications = [];
    /** The worker's requests to the host, in order. */
    this.workerRequests = [];
    /** The worker's stderr lines (`[plugin stderr]` in the server's log). */
    this.stderr = [];
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => this.receive(line));
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => this.stderr.push(line));
    child.on('exit', () => {
      for (const { reject, method } of this.pending.values()) {
        reject(new Error(`the worker exited during ${method}; stderr: ${this.stderr.slice(-5).join(' | ')}`));
      }
      this.pending.clear();
    });
  }

  /** A host→worker request; resolves with its result, rejects with an Error carrying `code`. */
  request(method, params, options = {}) {
    return this.start(method, params, options).result;
  }

  /** A host→worker request sent: its invocation id (what the worker's notifications of it carry) and its result. */
  start(method, params, { companyId = null, timeoutMs = 300_000 } = {}) {
    const id = this.nextId++;
    const invocationId = `inv-${id}`;
    const message = {
      jsonrpc: '2.0',
      id,
      method,
      params,
      paperclipInvocation: { id: invocationId, scope: { companyId } },
    };
    const result = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(Object.assign(new Error(`${method} timed out after ${timeoutMs} ms`), { code: -32003 }));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        invocationId,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.stdin.write(serializeMessage(message));
    });
    return { invocationId, result };
  }

  /** An environment hook of the driver, with the base params every hook carries. */
  environment(method, companyId, params) {
    return this.startEnvironment(method, companyId, params).result;
  }

  /** As {@link environment}, with the invocation id; `params.driverKey` picks another of the manifest's drivers. */
  startEnvironment(method, companyId, params) {
    return this.start(method, { driverKey: this.driverKey, companyId, ...params }, { companyId });
  }

  /** The manifest's first driver key. */
  get driverKey() {
    return this.manifest.environmentDrivers[0].driverKey;
  }

  /** The `execute.log` chunks the worker sent during the request whose invocation id is `invocationId`. */
  executeLog(invocationId) {
    return this.notifications
      .filter((n) => n.method === 'execute.log' && n.paperclipInvocationId === invocationId)
      .map((n) => n.params);
  }

  /** The `log` notifications' messages. */
  get logMessages() {
    return this.notifications.filter((n) => n.method === 'log').map((n) => `${n.params.level}: ${n.params.message}`);
  }

  /** `shutdown`, as the server sends it; resolves with the worker's exit. */
  async shutdown() {
    await this.request('shutdown', {});
    return this.exited;
  }

  receive(line) {
    const message = parseMessage(line);
    if ('method' in message && 'id' in message && message.id !== undefined && message.id !== null) {
      this.workerRequests.push(message);
      this.answerWorker(message);
      return;
    }
    if ('method' in message) {
      this.notifications.push(message);
      return;
    }
    const call = this.pending.get(message.id);
    if (call === undefined) return;
    this.pending.delete(message.id);
    if ('error' in message) {
      call.reject(Object.assign(new Error(message.error.message), { code: message.error.code, invocationId: call.invocationId }));
    } else {
      call.resolve(message.result);
    }
  }

  answerWorker(request) {
    const answer =
      request.method === 'config.get'
        ? { jsonrpc: '2.0', id: request.id, result: this.instanceConfig }
        : { jsonrpc: '2.0', id: request.id, error: { code: -32601, message: `the test host has no ${request.method}` } };
    this.child.stdin.write(serializeMessage(answer));
  }
}
