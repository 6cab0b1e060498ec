// The drop-in mapping from the Paperclip Kubernetes provider's configuration
// to leasebox's. Run: npx tsc -p . && LEASEBOX_BIN=../../target/debug/leasebox node --test test/config-mapping.test.mjs
// The tests that run the real binary are skipped with a message without LEASEBOX_BIN.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  LEASEBOX_BUILTIN_ADAPTERS,
  configSchemaFor,
  mapEnvironmentConfig,
  shellQuote,
} from "../dist/config-mapping.js";

const BIN = process.env.LEASEBOX_BIN;
const NO_BIN = BIN ? false : "LEASEBOX_BIN is not set (point it at target/debug/leasebox)";

/** A configuration leasebox reads as it is. */
const LEASEBOX_NATIVE = {
  inCluster: true,
  namespacePrefix: "leasebox-team-a-",
  backend: "pod",
  adapterType: "codex_local",
  adapters: [
    { adapterType: "aider_local", image: "registry.example.com/aider:1", envKeys: ["OPENAI_API_KEY"], probeCommand: "aider --version" },
  ],
  imageRegistry: "registry.example.com:5000/mirror",
  egressMode: "cilium",
  egressAllowFqdns: ["github.com"],
  egressAllowCidrs: ["10.0.0.0/8", { cidr: "2001:db8::/32", ports: [{ port: 443 }] }],
  defaultResources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "4Gi" } },
  serverCallback: { namespace: "paperclip", podLabels: { app: "paperclip-server" }, port: 3100 },
  workspace: { type: "pvc", size: "10Gi" },
  podActivityDeadlineSec: 1800,
};

/**
 * An environment as the Paperclip server stores it for its own Kubernetes
 * provider: the README's fields, a declared adapter registry (the operator's
 * PAPERCLIP_ADAPTERS shape), the defaults the provider's validateConfig writes
 * back ("K8s-B" normalisation), and the server's own keys.
 */
const KUBERNETES_PROVIDER = {
  provider: "kubernetes",
  reuseLease: false,
  timeoutMs: 900000,
  runnerLifecycleMode: "per_turn",
  inCluster: true,
  namespacePrefix: "paperclip-",
  companySlug: "acme",
  imageRegistry: "https://registry.example.com/paperclip/",
  runtimeImages: {},
  imageAllowList: ["registry.example.com/paperclip/*"],
  imagePullSecrets: ["regcred"],
  egressAllowFqdns: ["github.com", "registry.npmjs.org"],
  egressAllowCidrs: ["10.20.0.0/16"],
  egressMode: "standard",
  paperclipServerPodSelector: { app: "paperclip" },
  defaultResources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2" } },
  runtimeClassName: "gvisor",
  serviceAccountAnnotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/paperclip-agents" },
  jobTtlSecondsAfterFinished: 900,
  podActivityDeadlineSec: 3600,
  execKeepaliveIntervalSec: 15,
  execLivenessTimeoutSec: 60,
  podReadyTimeoutSec: 600,
  adapterType: "claude_local",
  adapters: [
    {
      adapterType: "claude_local",
      enabled: true,
      runtimeImage: "ghcr.io/paperclipai/agent-runtime-claude:v1",
      envKeys: ["ANTHROPIC_API_KEY"],
      allowFqdns: ["api.anthropic.com", "claude.com", "platform.claude.com"],
      probeCommand: ["claude", "--version"],
    },
    {
      adapterType: "codex_local",
      runtimeImage: "ghcr.io/paperclipai/agent-runtime-codex:v1",
      envKeys: ["OPENAI_API_KEY"],
      allowFqdns: ["api.openai.com", "auth.openai.com"],
      probeCommand: ["codex", "--version"],
      defaultEnv: { CODEX_HOME: "/home/agent/.codex" },
    },
    { adapterType: "gemini_local", enabled: false },
  ],
  backend: "sandbox-cr",
};

function map(input) {
  return mapEnvironmentConfig(input);
}

function leaseboxValidate(config) {
  const dir = mkdtempSync(join(tmpdir(), "config-mapping-"));
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify(config));
  const run = spawnSync(BIN, ["validate", "--config", file], { encoding: "utf8" });
  return { status: run.status, report: JSON.parse(run.stdout) };
}

function leaseboxJson(args) {
  const run = spawnSync(BIN, args, { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

function leaseboxPlan(config, adapterType) {
  const dir = mkdtempSync(join(tmpdir(), "config-mapping-"));
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify(config));
  const run = spawnSync(
    BIN,
    ["plan", "--config", file, "--adapter-type", adapterType, "--lease-id", "lb-01jd5z8k9m0000000000000000", "--now", "2025-01-02T03:04:05Z"],
    { encoding: "utf8" },
  );
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

// ── identity and idempotence ────────────────────────────────────────────────

test("leasebox_native_config_passes_through_unchanged", () => {
  const mapped = map(LEASEBOX_NATIVE);
  assert.deepEqual(mapped.config, LEASEBOX_NATIVE);
  assert.deepEqual(mapped.errors, []);
  assert.deepEqual(mapped.warnings, ["inCluster is not used: the operator's instance settings (the leasebox host's cluster settings) choose the cluster."]);
  assert.equal(mapped.allowedAdapters, null);
});

test("mapping_does_not_change_its_input", () => {
  const input = structuredClone(KUBERNETES_PROVIDER);
  map(input);
  assert.deepEqual(input, KUBERNETES_PROVIDER);
});

test("mapping_a_mapped_config_changes_nothing", () => {
  const inputs = [
    LEASEBOX_NATIVE,
    KUBERNETES_PROVIDER,
    { inCluster: true, runtimeImages: { pi_local: "registry.example.com/pi:3" }, defaultResources: { limits: { memory: "8Gi" } } },
    { kubeconfig: "apiVersion: v1\nkind: Config\n", imageRegistry: "oci://r.example.com:5000/", unknownField: 1 },
  ];
  for (const input of inputs) {
    const once = map(input).config;
    assert.deepEqual(map(once).config, once, JSON.stringify(input));
  }
});

// ── host keys ───────────────────────────────────────────────────────────────

test("host_owned_keys_are_removed_without_a_word", () => {
  const mapped = map({
    inCluster: false,
    kubeconfig: "",
    provider: "kubernetes",
    reuseLease: false,
    timeoutMs: 300000,
    runnerLifecycleMode: "warm",
    runnerIdleTimeoutMs: 86400000,
    streamRunLogs: true,
    archiveOnRelease: true,
  });
  assert.deepEqual(mapped.config, { inCluster: false, kubeconfig: "" });
  assert.deepEqual(mapped.errors, []);
  assert.deepEqual(mapped.warnings, []);
});

test("reuse_lease_true_is_an_error_naming_the_field", () => {
  const mapped = map({ inCluster: true, reuseLease: true });
  assert.deepEqual(mapped.errors, [
    "reuseLease: leasebox does not keep a sandbox between runs, so a reusable lease cannot be honoured; set reuseLease to false (each run then gets a fresh sandbox)",
  ]);
  assert.equal("reuseLease" in mapped.config, false);
});

test("reuse_lease_that_is_not_a_boolean_is_an_error", () => {
  assert.deepEqual(map({ reuseLease: "yes" }).errors, ['reuseLease: must be true or false, not "yes"; set it to false']);
});

test("reuse_tuning_fields_are_dropped_with_a_warning", () => {
  const mapped = map({ reuseIdleTtlSec: 3600, reuseMaxSandboxes: 8, reuseResources: { requests: { cpu: "100m" } } });
  assert.deepEqual(mapped.config, {});
  assert.deepEqual(mapped.errors, []);
  assert.deepEqual(mapped.warnings, [
    "reuseIdleTtlSec is not used: it tunes reusable sandboxes (reuseLease), which leasebox does not keep.",
    "reuseMaxSandboxes is not used: it tunes reusable sandboxes (reuseLease), which leasebox does not keep.",
    "reuseResources is not used: it tunes reusable sandboxes (reuseLease), which leasebox does not keep.",
  ]);
});

test("reuse_tuning_fields_of_the_wrong_type_are_errors", () => {
  const mapped = map({ reuseIdleTtlSec: 10, reuseMaxSandboxes: "8", reuseResources: [] });
  assert.deepEqual(mapped.errors, [
    "reuseIdleTtlSec: must be a whole number of seconds, 60-604800, not 10; fix the value or remove the field",
    'reuseMaxSandboxes: must be a whole number, 1-100, not "8"; fix the value or remove the field',
    "reuseResources: must be an object {requests, limits}, not []; fix the value or remove the field",
  ]);
});

// ── cluster ─────────────────────────────────────────────────────────────────

test("kubeconfig_stays_with_a_warning_that_the_operator_chooses_the_cluster", () => {
  const mapped = map({ kubeconfig: "apiVersion: v1\nkind: Config\n" });
  assert.deepEqual(mapped.config, { kubeconfig: "apiVersion: v1\nkind: Config\n" });
  assert.deepEqual(mapped.warnings, [
    "kubeconfig is not used: the operator's instance settings (the leasebox host's cluster settings) choose the cluster.",
  ]);
});

test("kubeconfig_secret_ref_is_dropped_with_a_warning", () => {
  const mapped = map({ inCluster: false, kubeconfigSecretRef: "6f1c3a52-4a1e-4e38-9b55-0b7d1e1e2a10" });
  assert.deepEqual(mapped.config, { inCluster: false });
  assert.match(mapped.warnings[0], /^kubeconfigSecretRef is not used: /);
});

// ── images ──────────────────────────────────────────────────────────────────

test("image_registry_url_loses_its_scheme_and_trailing_slash", () => {
  assert.equal(map({ imageRegistry: "https://r.example.com/x/" }).config.imageRegistry, "r.example.com/x");
  assert.equal(map({ imageRegistry: "http://localhost:5000" }).config.imageRegistry, "localhost:5000");
  assert.equal(map({ imageRegistry: "r.example.com/x" }).config.imageRegistry, "r.example.com/x");
});

test("image_registry_url_with_credentials_is_an_error", () => {
  const mapped = map({ imageRegistry: "https://user:pw@r.example.com" });
  assert.deepEqual(mapped.errors, [
    "imageRegistry: `https://user:pw@r.example.com` carries credentials, a query or a fragment, which an image reference cannot hold; write `host[:port][/path]` (pull credentials belong in imagePullSecrets)",
  ]);
});

test("probe_command_argv_becomes_one_shell_quoted_string", () => {
  const mapped = map({ adapters: [{ adapterType: "x", runtimeImage: "r.example.com/x:1", probeCommand: ["sh", "-c", "x --version 2>&1", "it's"] }] });
  assert.equal(mapped.config.adapters[0].probeCommand, `sh -c 'x --version 2>&1' 'it'\\''s'`);
});

test("shell_quote_keeps_safe_words_bare_and_quotes_the_empty_word", () => {
  assert.equal(shellQuote(["claude", "--version"]), "claude --version");
  assert.equal(shellQuote(["echo", ""]), "echo ''");
  assert.equal(shellQuote(["a b", "$HOME"]), "'a b' '$HOME'");
});

test("empty_probe_command_argv_means_no_probe", () => {
  const mapped = map({ adapters: [{ adapterType: "x", runtimeImage: "r.example.com/x:1", probeCommand: [] }] });
  assert.deepEqual(mapped.config.adapters, [{ adapterType: "x", image: "r.example.com/x:1" }]);
});

// ── adapters ────────────────────────────────────────────────────────────────

test("runtime_image_becomes_image", () => {
  const mapped = map({ adapters: [{ adapterType: "x", runtimeImage: "r.example.com/x:1", envKeys: ["X_KEY"] }] });
  assert.deepEqual(mapped.config.adapters, [{ adapterType: "x", image: "r.example.com/x:1", envKeys: ["X_KEY"] }]);
});

test("an_adapter_list_of_the_provider_replaces_the_builtins", () => {
  const mapped = map(KUBERNETES_PROVIDER);
  assert.deepEqual(mapped.allowedAdapters, ["claude_local", "codex_local"]);
});

test("disabled_adapters_are_left_out_and_not_allowed", () => {
  const mapped = map({
    adapters: [
      { adapterType: "claude_local", runtimeImage: "r.example.com/claude:1" },
      { adapterType: "codex_local", runtimeImage: "r.example.com/codex:1", enabled: false },
    ],
  });
  assert.deepEqual(mapped.config.adapters, [{ adapterType: "claude_local", image: "r.example.com/claude:1" }]);
  assert.deepEqual(mapped.allowedAdapters, ["claude_local"]);
});

test("a_default_adapter_the_list_does_not_enable_is_a_warning", () => {
  const mapped = map({ adapters: [{ adapterType: "codex_local", runtimeImage: "r.example.com/codex:1" }] });
  assert.deepEqual(mapped.warnings, [
    "adapterType `claude_local` is not among the adapters adapters[] enables (codex_local), so a run that names no adapter will be refused.",
  ]);
});

test("an_adapter_without_runtime_image_is_an_error_naming_its_index", () => {
  const mapped = map({
    adapters: [
      { adapterType: "claude_local", runtimeImage: "r.example.com/claude:1" },
      { adapterType: "codex_local", envKeys: ["OPENAI_API_KEY"] },
    ],
  });
  assert.deepEqual(mapped.errors, [
    "adapters[1].runtimeImage: missing, and the Kubernetes provider cannot run an adapter without one; give its image (or runtimeImages.codex_local), or set enabled: false",
  ]);
});

test("adapter_fields_of_the_wrong_type_are_errors_naming_the_field", () => {
  const mapped = map({
    adapters: [
      { adapterType: "a", runtimeImage: 7 },
      { adapterType: "b", runtimeImage: "r.example.com/b:1", enabled: "no" },
      { adapterType: "c", runtimeImage: "r.example.com/c:1", probeCommand: ["c", 1] },
      { adapterType: "d", runtimeImage: "r.example.com/d:1", image: "r.example.com/d:2" },
    ],
  });
  assert.deepEqual(mapped.errors, [
    "adapters[0].runtimeImage: must be an image reference, not 7; write the image, such as `registry.example.com/agent:1`",
    'adapters[1].enabled: must be true or false, not "no"; fix the value',
    'adapters[2].probeCommand: must be an argv of strings; write it as ["claude", "--version"]',
    "adapters[3].runtimeImage: differs from adapters[3].image; keep one of them",
  ]);
});

test("runtime_images_give_a_declared_adapter_its_image", () => {
  const mapped = map({
    adapters: [{ adapterType: "x", envKeys: [], probeCommand: ["x", "-v"] }],
    runtimeImages: { x: " r.example.com/x:1 " },
  });
  assert.deepEqual(mapped.errors, []);
  assert.deepEqual(mapped.config.adapters, [{ adapterType: "x", envKeys: [], probeCommand: "x -v", image: "r.example.com/x:1" }]);
  assert.equal("runtimeImages" in mapped.config, false);
});

test("runtime_images_for_a_builtin_declare_it_with_its_builtin_fields", () => {
  const mapped = map({ runtimeImages: { pi_local: "r.example.com/pi:3" } });
  assert.deepEqual(mapped.config, {
    adapters: [{ adapterType: "pi_local", image: "r.example.com/pi:3", envKeys: ["ANTHROPIC_API_KEY"], allowFqdns: ["api.anthropic.com"], probeCommand: "pi --version" }],
  });
  assert.equal(mapped.allowedAdapters, null);
});

test("runtime_images_for_an_unknown_adapter_is_an_error", () => {
  assert.deepEqual(map({ runtimeImages: { nope_local: "r.example.com/n:1" } }).errors, [
    "runtimeImages.nope_local: there is no adapter `nope_local`; declare it in adapters[] or use a built-in (claude_local, codex_local, gemini_local, cursor_local, opencode_local, pi_local)",
  ]);
});

test("runtime_images_differing_from_an_adapter_image_is_an_error", () => {
  const mapped = map({
    adapters: [{ adapterType: "x", runtimeImage: "r.example.com/x:1" }],
    runtimeImages: { x: "r.example.com/x:2" },
  });
  assert.deepEqual(mapped.errors, ["runtimeImages.x: differs from the image of adapters[0]; keep one of them"]);
});

test("runtime_images_for_an_adapter_the_list_leaves_out_is_a_warning", () => {
  const mapped = map({
    adapters: [{ adapterType: "x", runtimeImage: "r.example.com/x:1" }],
    runtimeImages: { codex_local: "r.example.com/codex:9" },
    adapterType: "x",
  });
  assert.deepEqual(mapped.warnings, [
    "runtimeImages.codex_local is not used: adapters[] replaces the built-in adapters and does not enable codex_local.",
  ]);
});

test("runtime_images_that_are_not_a_map_of_images_is_an_error", () => {
  assert.deepEqual(map({ runtimeImages: { claude_local: "" } }).errors, [
    'runtimeImages: must map adapter types to image references, not {"claude_local":""}; write it as {"claude_local": "registry.example.com/claude:1"}',
  ]);
});

// ── callback, resources, exec ───────────────────────────────────────────────

test("pod_selector_becomes_server_callback_with_the_upstream_namespace_and_port", () => {
  const mapped = map({ paperclipServerPodSelector: { app: "paperclip" } });
  assert.deepEqual(mapped.config, { serverCallback: { namespace: "paperclip", podLabels: { app: "paperclip" }, port: 3100 } });
});

test("an_empty_or_malformed_pod_selector_is_an_error", () => {
  assert.deepEqual(map({ paperclipServerPodSelector: {} }).errors, [
    'paperclipServerPodSelector: is empty, so it selects no Paperclip server pod; write the server pods\' labels, such as {"app": "paperclip-server"}',
  ]);
  assert.deepEqual(map({ paperclipServerPodSelector: { app: 1 } }).errors, [
    'paperclipServerPodSelector: must map pod label keys to values, not {"app":1}; write the Paperclip server pods\' labels, such as {"app": "paperclip-server"}',
  ]);
});

test("a_pod_selector_beside_another_server_callback_is_an_error", () => {
  const mapped = map({
    paperclipServerPodSelector: { app: "paperclip" },
    serverCallback: { namespace: "other", podLabels: { app: "paperclip" }, port: 3100 },
  });
  assert.deepEqual(mapped.errors, [
    "paperclipServerPodSelector: conflicts with serverCallback, which names the callback target too; keep serverCallback and remove paperclipServerPodSelector",
  ]);
});

test("a_missing_request_takes_the_limit_kubernetes_would_have_set", () => {
  assert.deepEqual(map({ defaultResources: { requests: { cpu: "500m" } } }).config.defaultResources, {
    requests: { cpu: "500m", memory: "4Gi" },
  });
  assert.deepEqual(map({ defaultResources: { requests: { memory: "1Gi" }, limits: { cpu: "3", memory: "6Gi" } } }).config.defaultResources, {
    requests: { memory: "1Gi", cpu: "3" },
    limits: { cpu: "3", memory: "6Gi" },
  });
});

test("a_missing_limit_takes_the_limit_range_default", () => {
  assert.deepEqual(map({ defaultResources: { requests: { cpu: "500m" }, limits: { cpu: "2" } } }).config.defaultResources, {
    requests: { cpu: "500m", memory: "512Mi" },
    limits: { cpu: "2", memory: "2Gi" },
  });
  assert.deepEqual(map({ quota: { defaultMemory: "3Gi" }, defaultResources: { limits: { cpu: "2" } } }).config.defaultResources, {
    limits: { cpu: "2", memory: "3Gi" },
  });
});

test("exec_keepalive_defaults_are_dropped_with_a_warning", () => {
  const mapped = map({ execKeepaliveIntervalSec: 15, execLivenessTimeoutSec: 60 });
  assert.deepEqual(mapped.config, {});
  assert.deepEqual(mapped.errors, []);
  assert.equal(mapped.warnings.length, 2);
  assert.match(mapped.warnings[0], /^execKeepaliveIntervalSec \(15, the Kubernetes provider's default\) is not used/);
});

test("exec_keepalive_other_values_are_errors_naming_the_field", () => {
  assert.deepEqual(map({ execKeepaliveIntervalSec: 0, execLivenessTimeoutSec: "60" }).errors, [
    "execKeepaliveIntervalSec: leasebox's exec has no keepalive setting, so 0 cannot be honoured; remove the field (or set the provider's default 15)",
    'execLivenessTimeoutSec: must be a whole number of seconds (1 or more), not "60"; remove the field',
  ]);
});

test("pod_activity_deadline_sets_the_default_exec_budget", () => {
  assert.equal(map({ podActivityDeadlineSec: 7200 }).defaultExecTimeoutMs, 7_200_000);
  assert.equal(map({ podActivityDeadlineSec: 7200 }).config.podActivityDeadlineSec, 7200);
  assert.equal(map({}).defaultExecTimeoutMs, null);
});

test("unknown_fields_are_left_for_leasebox_to_name", () => {
  const mapped = map({ serverNamespace: "paperclip", adapters: [{ adapterType: "x", image: "r.example.com/x:1", extra: true }] });
  assert.deepEqual(mapped.config, { serverNamespace: "paperclip", adapters: [{ adapterType: "x", image: "r.example.com/x:1", extra: true }] });
  assert.deepEqual(mapped.errors, []);
});

// ── against the real binary ─────────────────────────────────────────────────

test("a_realistic_kubernetes_provider_config_is_accepted_by_leasebox", { skip: NO_BIN }, () => {
  const mapped = map(KUBERNETES_PROVIDER);
  assert.deepEqual(mapped.errors, []);
  const { status, report } = leaseboxValidate(mapped.config);
  assert.equal(status, 0, JSON.stringify(report.errors));
  assert.equal(report.ok, true);
  assert.equal(report.normalizedConfig.imageRegistry, "registry.example.com/paperclip");
  assert.deepEqual(report.normalizedConfig.serverCallback, { namespace: "paperclip", podLabels: { app: "paperclip" }, port: 3100 });
});

test("the_unmapped_kubernetes_provider_config_is_refused_by_leasebox", { skip: NO_BIN }, () => {
  const { status, report } = leaseboxValidate(KUBERNETES_PROVIDER);
  assert.notEqual(status, 0);
  assert.ok(report.errors.some((e) => e.path === "paperclipServerPodSelector"));
});

test("a_mapped_builtin_plans_like_leasebox_own_builtin", { skip: NO_BIN }, () => {
  for (const adapterType of Object.keys(LEASEBOX_BUILTIN_ADAPTERS)) {
    const own = leaseboxPlan({ inCluster: true, egressMode: "cilium" }, adapterType);
    const image = JSON.parse(own).items.flatMap((o) => o.spec?.podTemplate?.spec?.containers ?? o.spec?.containers ?? [])[0]?.image;
    assert.ok(image, `no image in the plan of ${adapterType}`);
    const mapped = map({ inCluster: true, egressMode: "cilium", runtimeImages: { [adapterType]: image } });
    assert.equal(leaseboxPlan(mapped.config, adapterType), own, adapterType);
  }
});

test("filled_resources_are_leasebox_defaults", { skip: NO_BIN }, () => {
  const schema = leaseboxJson(["schema"]);
  const quota = schema.properties.quota.default;
  const limits = schema.properties.defaultResources.default.limits;
  assert.deepEqual(map({ defaultResources: { requests: { cpu: "1" } } }).config.defaultResources.requests.memory, limits.memory);
  assert.deepEqual(map({ defaultResources: { limits: { cpu: "1" } } }).config.defaultResources.limits.memory, quota.defaultMemory);
  assert.deepEqual(map({ defaultResources: { requests: { cpu: "1" }, limits: { cpu: "1" } } }).config.defaultResources.requests.memory, quota.defaultRequestMemory);
  assert.deepEqual(map({ defaultResources: { limits: { memory: "1Gi" } } }).config.defaultResources.limits.cpu, quota.defaultCpu);
  assert.deepEqual(map({ defaultResources: { requests: { memory: "1Gi" }, limits: { memory: "1Gi" } } }).config.defaultResources.requests.cpu, quota.defaultRequestCpu);
});

test("config_schema_names_every_field_of_both_shapes", { skip: NO_BIN }, () => {
  const leasebox = leaseboxJson(["schema"]);
  const schema = configSchemaFor(leasebox);
  assert.deepEqual(leasebox, leaseboxJson(["schema"]), "the input schema is not changed");
  const adapter = schema.$defs.AdapterDecl;
  for (const config of [LEASEBOX_NATIVE, KUBERNETES_PROVIDER]) {
    for (const key of Object.keys(config)) assert.ok(key in schema.properties, `top-level ${key}`);
    for (const entry of config.adapters) {
      for (const key of Object.keys(entry)) assert.ok(key in adapter.properties, `adapters[].${key}`);
      for (const key of adapter.required) assert.ok(key in entry, `adapters[] requires ${key}`);
    }
  }
  assert.equal(schema.properties.kubeconfig.format, "secret-ref");
  assert.deepEqual(schema.$defs.CpuMemory.required, []);
  assert.equal(schema.additionalProperties, false);
});
