// A second host for the policy module: Node runs the module as transpiled by
// jco (`jco transpile --instantiation async`), with no cluster, and prints
// what `validate-config`, `config-schema` and `plan` return, so that
// tests/component/node_host.rs can compare it with the wasmtime host.
//
// Usage: node host.mjs OUT_DIR NAME REQUESTS.json
//   OUT_DIR   the `-o` directory of the transpile, NAME its `--name`;
//   REQUESTS  a JSON array of {"call": "validate-config", "config": TEXT},
//             {"call": "config-schema"} or {"call": "plan", "request": LEASE_REQUEST},
//             LEASE_REQUEST in jco's shape (camelCase fields, variants {tag, val},
//             an absent option left out).
// Prints one JSON array, one entry per request: {"ok": VALUE}, {"err": POLICY_ERROR}
// (the {tag, val} that jco throws as ComponentError.payload) or {"trap": MESSAGE}.
// An absent option prints as null.
//
// Nothing here names a contract version or lists a record's fields: values go
// through as jco gives them, and imports are found by interface name.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as wasi from '@bytecodealliance/preview2-shim';

const [outDir, name, requestsFile] = process.argv.slice(2);
if (!requestsFile) {
  console.error('usage: node host.mjs OUT_DIR NAME REQUESTS.json');
  process.exit(2);
}

// Node 20 has no JSPI. jco's setup probes `WebAssembly.promising` once per
// export inside try/catch and falls back to the plain function; each throw
// costs ~8 ms per instance. The identity function gives that same fallback
// without the throw (the contract has no async functions).
if (typeof WebAssembly.promising !== 'function') {
  WebAssembly.promising = (f) => f;
}

// Like the wasmtime host: no environment, no arguments.
wasi.cli._setEnv({});
wasi.cli._setArgs([]);

// The wasmtime host's `NoCluster`: every kube function (and resource
// constructor) fails with `no-cluster`.
const noCluster = new Proxy(
  {},
  {
    get: (_, fn) =>
      function () {
        throw { tag: 'no-cluster', val: `no cluster: the Node host has none (kube ${String(fn)})` };
      },
  },
);

// Log messages are kept per call and dropped: the wasmtime test host is silent.
let log = [];
const logging = { log: (level, context, message) => log.push({ level, context, message }) };

const camel = (kebab) => kebab.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

// `namespace:package/interface` (an `@version` suffix, if jco ever passes
// one, is ignored) -> its implementation.
const imports = new Proxy(
  {},
  {
    get(_, key) {
      const [, ns, pkg, iface] = /^([^:]+):([^/]+)\/([^@]+)/.exec(String(key)) ?? [];
      if (ns === 'wasi' && wasi[pkg]?.[camel(iface)]) return wasi[pkg][camel(iface)];
      if (ns === 'leasebox' && iface === 'kube') return noCluster;
      if (ns === 'leasebox' && iface === 'logging') return logging;
      throw new Error(`the Node host has no import ${String(key)}`);
    },
  },
);

const { instantiate } = await import(pathToFileURL(join(outDir, `${name}.js`)).href);

// Core modules are compiled once; each call gets a fresh instance, as in the
// wasmtime host.
const compiled = new Map();
const getCoreModule = (file) => {
  if (!compiled.has(file)) {
    compiled.set(file, readFile(join(outDir, file)).then((bytes) => WebAssembly.compile(bytes)));
  }
  return compiled.get(file);
};

async function call(req) {
  log = [];
  const { provider } = await instantiate(getCoreModule, imports);
  try {
    switch (req.call) {
      case 'validate-config':
        return { ok: provider.validateConfig(req.config) };
      case 'config-schema':
        return { ok: provider.configSchema() };
      case 'plan':
        return { ok: provider.plan(req.request) };
      default:
        throw new Error(`unknown call ${req.call}`);
    }
  } catch (e) {
    if (e && typeof e === 'object' && 'payload' in e) return { err: e.payload };
    return { trap: String(e?.stack ?? e) };
  }
}

const requests = JSON.parse(await readFile(requestsFile, 'utf8'));
const results = [];
for (const req of requests) results.push(await call(req));

const plain = (_, v) => (v === undefined ? null : typeof v === 'bigint' ? v.toString() : v);
process.stdout.write(JSON.stringify(results, plain) + '\n');
