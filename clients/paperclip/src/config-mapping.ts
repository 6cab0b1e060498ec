/**
 * Drop-in configuration: an environment written for Paperclip's own
 * Kubernetes sandbox provider (`packages/plugins/sandbox-providers/kubernetes`)
 * keeps working under leasebox.
 *
 * `mapEnvironmentConfig` turns such a configuration into leasebox's: the
 * provider's field names are mapped (each mapping is documented in
 * `docs/kubernetes-provider-config.md`), a field leasebox cannot honour is an
 * error naming the field and the fix, and the keys the Paperclip server adds
 * to every sandbox environment are removed. A leasebox configuration passes
 * through unchanged; fields this module does not know are left in place, so
 * leasebox's own validation names them.
 *
 * `configSchemaFor` extends leasebox's JSON Schema (as printed by
 * `leasebox schema`) with the same names, for the plugin manifest.
 */

import leaseboxSchema from './leasebox-config.schema.json' with { type: 'json' };

/** The result of mapping one environment configuration. */
export interface MappedConfig {
  /** The leasebox configuration: only leasebox's fields (pass it to leasebox `validate`/`acquire`). */
  config: Record<string, unknown>;
  /** Problems of the mapping itself, each `"<path>: <what is wrong>; <the fix>"` (path like `adapters[1].runtimeImage`). */
  errors: string[];
  /** Each a sentence naming the field. */
  warnings: string[];
  /**
   * When a Kubernetes-provider `adapters[]` replaced the built-ins: the adapter
   * types it enables (a run of any other adapter must be refused by the
   * caller); null otherwise.
   *
   * leasebox has no field for this, so it is not kept in `config`: map the
   * environment's configuration as stored, not a mapped one.
   */
  allowedAdapters: string[] | null;
  /** The default command budget in ms the Kubernetes provider derived from `podActivityDeadlineSec` (null when not set). */
  defaultExecTimeoutMs: number | null;
}

type Json = Record<string, unknown>;

/** What one mapping step reports. */
interface Report {
  errors: string[];
  warnings: string[];
}

/**
 * Keys the Paperclip server owns in a sandbox environment's configuration
 * (`PluginSandboxEnvironmentConfig` in `@paperclipai/shared`, and the
 * `pluginSandboxEnvironmentConfigSchema` of `server/src/services/
 * environment-config.ts`, which adds `reuseLease: false` to every one). The
 * server strips only `provider` before calling the provider, so the others
 * arrive here; they steer the server, not the sandbox.
 *
 * `reuseLease` is also one of them, but `true` asks the provider to keep the
 * sandbox between runs, which leasebox does not: see `mapReuse`.
 */
const HOST_KEYS = [
  "provider",
  "timeoutMs",
  "runnerLifecycleMode",
  "runnerIdleTimeoutMs",
  "streamRunLogs",
  "archiveOnRelease",
] as const;

/**
 * The namespace the Kubernetes provider's callback rule targets: the constant
 * `PAPERCLIP_SERVER_NAMESPACE` of its `src/plugin.ts`, not configurable there.
 */
const UPSTREAM_SERVER_NAMESPACE = "paperclip";

/** The callback port of its egress policies (`network-policy.ts`, `cilium-network-policy.ts`). */
const UPSTREAM_SERVER_PORT = 3100;

/** Its exec keepalive defaults (`types.ts`, "K8s-B"), in seconds. */
const UPSTREAM_EXEC_DEFAULTS = {
  execKeepaliveIntervalSec: 15,
  execLivenessTimeoutSec: 60,
} as const;

type CpuMemory = { cpu: string; memory: string };

/**
 * The container resources the provider writes when a side is absent
 * (`sandbox-cr-builder.ts`: `requests ?? {250m, 512Mi}`, `limits ?? {2, 4Gi}`).
 */
const UPSTREAM_DEFAULT_LIMITS: CpuMemory = { cpu: "2", memory: "4Gi" };

/**
 * Its tenant LimitRange (`tenant-orchestrator.ts`): what Kubernetes gives a
 * container that names no limit (`default`) or no request (`defaultRequest`)
 * for a resource. leasebox's `quota` has the same defaults; when the
 * configuration sets `quota`, its values are the LimitRange instead.
 */
const UPSTREAM_LIMIT_RANGE = {
  default: { cpu: "1", memory: "2Gi" } as CpuMemory,
  defaultRequest: { cpu: "250m", memory: "512Mi" } as CpuMemory,
};

/**
 * leasebox's built-in adapters apart from their image (guest/src/adapters.rs).
 *
 * A declared leasebox adapter replaces a built-in whole, so giving a built-in
 * only another image (`runtimeImages`) means declaring it with these fields.
 * The list is not printed by any leasebox command; a test compares the plan
 * of each mapped built-in with leasebox's own.
 */
export const LEASEBOX_BUILTIN_ADAPTERS: Readonly<
  Record<string, { envKeys: string[]; allowFqdns: string[]; probeCommand: string }>
> = {
  claude_local: { envKeys: ["ANTHROPIC_API_KEY"], allowFqdns: ["api.anthropic.com"], probeCommand: "claude --version" },
  codex_local: { envKeys: ["OPENAI_API_KEY"], allowFqdns: ["api.openai.com"], probeCommand: "codex --version" },
  gemini_local: {
    envKeys: ["GOOGLE_API_KEY", "GEMINI_API_KEY"],
    allowFqdns: ["generativelanguage.googleapis.com"],
    probeCommand: "gemini --version",
  },
  cursor_local: {
    envKeys: ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"],
    allowFqdns: ["api.anthropic.com", "api.openai.com"],
    probeCommand: "cursor-agent --version",
  },
  opencode_local: {
    envKeys: ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY"],
    allowFqdns: ["api.anthropic.com", "api.openai.com", "openrouter.ai"],
    probeCommand: "opencode --version",
  },
  pi_local: { envKeys: ["ANTHROPIC_API_KEY"], allowFqdns: ["api.anthropic.com"], probeCommand: "pi --version" },
};

/** The adapter a run uses when the configuration names none: the schema's default (the provider's is the same). */
export const DEFAULT_ADAPTER_TYPE: string = leaseboxSchema.properties.adapterType.default;

/** Maps an environment configuration written for either provider to leasebox's. */
export function mapEnvironmentConfig(input: Record<string, unknown>): MappedConfig {
  const config = structuredClone(input) as Json;
  const report: Report = { errors: [], warnings: [] };

  for (const key of HOST_KEYS) delete config[key];
  mapReuse(config, report);
  mapCluster(config, report);
  mapImageRegistry(config, report);
  mapResources(config);
  mapServerCallback(config, report);
  mapExecKeepalive(config, report);
  const allowedAdapters = mapAdapters(config, report);

  if (allowedAdapters !== null) {
    const adapterType = typeof config.adapterType === "string" ? config.adapterType : DEFAULT_ADAPTER_TYPE;
    if (!allowedAdapters.includes(adapterType)) {
      report.warnings.push(
        `adapterType \`${adapterType}\` is not among the adapters adapters[] enables (${listOrNone(allowedAdapters)}), ` +
          "so a run that names no adapter will be refused.",
      );
    }
  }

  const deadline = config.podActivityDeadlineSec;
  const defaultExecTimeoutMs =
    typeof deadline === "number" && Number.isInteger(deadline) && deadline > 0 ? deadline * 1000 : null;

  return { config, errors: report.errors, warnings: report.warnings, allowedAdapters, defaultExecTimeoutMs };
}

/**
 * `reuseLease` (host key) and the provider's reuse tuning. leasebox does not
 * keep a sandbox between runs, so only `reuseLease: true` changes behaviour;
 * the tuning fields act only with it ("K8s-B" `reuse.ts`
 * `resolveReuseSettings`).
 */
function mapReuse(config: Json, report: Report): void {
  if ("reuseLease" in config) {
    const value = config.reuseLease;
    delete config.reuseLease;
    if (typeof value !== "boolean") {
      report.errors.push(`reuseLease: must be true or false, not ${describe(value)}; set it to false`);
    } else if (value) {
      report.errors.push(
        "reuseLease: leasebox does not keep a sandbox between runs, so a reusable lease cannot be honoured; " +
          "set reuseLease to false (each run then gets a fresh sandbox)",
      );
    }
  }
  const tuning: [string, (v: unknown) => boolean, string][] = [
    ["reuseIdleTtlSec", (v) => isInteger(v, 60, 604_800), "a whole number of seconds, 60-604800"],
    ["reuseMaxSandboxes", (v) => isInteger(v, 1, 100), "a whole number, 1-100"],
    ["reuseResources", isRecord, "an object {requests, limits}"],
  ];
  for (const [name, valid, shape] of tuning) {
    if (!(name in config)) continue;
    const value = config[name];
    delete config[name];
    if (!valid(value)) {
      report.errors.push(`${name}: must be ${shape}, not ${describe(value)}; fix the value or remove the field`);
    } else {
      report.warnings.push(`${name} is not used: it tunes reusable sandboxes (reuseLease), which leasebox does not keep.`);
    }
  }
}

/**
 * The cluster is the operator's choice (leasebox host settings), never the
 * environment's. `kubeconfig` and `inCluster` are leasebox fields too (its
 * validation wants one of them), so they stay; `kubeconfigSecretRef`, which
 * the provider's README names but its schema drops, goes.
 */
function mapCluster(config: Json, report: Report): void {
  const unused = "the operator's instance settings (the leasebox host's cluster settings) choose the cluster";
  if (typeof config.kubeconfig === "string" && config.kubeconfig.trim() !== "") {
    report.warnings.push(`kubeconfig is not used: ${unused}.`);
  }
  if (config.inCluster === true) {
    report.warnings.push(`inCluster is not used: ${unused}.`);
  }
  if ("kubeconfigSecretRef" in config) {
    delete config.kubeconfigSecretRef;
    report.warnings.push(`kubeconfigSecretRef is not used: ${unused} (the Kubernetes provider did not read it either).`);
  }
}

/**
 * The provider takes a URL (`z.string().url()`) and pastes it in front of
 * the image name; leasebox takes `host[:port][/path]`. The scheme and
 * trailing slashes go; what an image reference cannot hold is an error.
 */
function mapImageRegistry(config: Json, report: Report): void {
  const value = config.imageRegistry;
  if (typeof value !== "string") return;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value.trim());
  if (!scheme) return;
  const rest = value.trim().slice(scheme[0].length).replace(/\/+$/, "");
  if (/[@?#]/.test(rest)) {
    report.errors.push(
      `imageRegistry: \`${value}\` carries credentials, a query or a fragment, which an image reference cannot hold; ` +
        "write `host[:port][/path]` (pull credentials belong in imagePullSecrets)",
    );
    return;
  }
  config.imageRegistry = rest;
}

/**
 * The provider accepts `defaultResources.requests`/`limits` with cpu or
 * memory missing and writes them to the container as given; leasebox wants
 * both. Each missing value becomes what Kubernetes gave that container: a
 * missing request is the resource's limit (API defaulting), or the
 * LimitRange `defaultRequest` when the limit is missing too; a missing limit
 * is the LimitRange `default`.
 */
function mapResources(config: Json): void {
  const resources = config.defaultResources;
  if (!isRecord(resources)) return;
  const { requests, limits } = resources;
  if (!isPartial(requests) && !isPartial(limits)) return;

  const quota = isRecord(config.quota) ? config.quota : {};
  const limitRange = {
    default: {
      cpu: stringOr(quota.defaultCpu, UPSTREAM_LIMIT_RANGE.default.cpu),
      memory: stringOr(quota.defaultMemory, UPSTREAM_LIMIT_RANGE.default.memory),
    },
    defaultRequest: {
      cpu: stringOr(quota.defaultRequestCpu, UPSTREAM_LIMIT_RANGE.defaultRequest.cpu),
      memory: stringOr(quota.defaultRequestMemory, UPSTREAM_LIMIT_RANGE.defaultRequest.memory),
    },
  };
  const mapped: Json = { ...resources };
  if (isPartial(requests)) {
    const filled: Json = { ...requests };
    for (const r of ["cpu", "memory"] as const) {
      if (filled[r] !== undefined) continue;
      if (limits === undefined) filled[r] = UPSTREAM_DEFAULT_LIMITS[r];
      else if (isRecord(limits) && limits[r] !== undefined) filled[r] = limits[r];
      else filled[r] = limitRange.defaultRequest[r];
    }
    mapped.requests = filled;
  }
  if (isPartial(limits)) {
    const filled: Json = { ...limits };
    for (const r of ["cpu", "memory"] as const) {
      if (filled[r] === undefined) filled[r] = limitRange.default[r];
    }
    mapped.limits = filled;
  }
  config.defaultResources = mapped;
}

/**
 * `paperclipServerPodSelector` ("K8s-A") names the labels of the Paperclip
 * server pods the sandbox may call back to; the provider pairs it with its
 * fixed namespace and port. leasebox's `serverCallback` holds all three.
 */
function mapServerCallback(config: Json, report: Report): void {
  if (!("paperclipServerPodSelector" in config)) return;
  const selector = config.paperclipServerPodSelector;
  delete config.paperclipServerPodSelector;
  if (!isRecord(selector) || !Object.values(selector).every((v) => typeof v === "string")) {
    report.errors.push(
      `paperclipServerPodSelector: must map pod label keys to values, not ${describe(selector)}; ` +
        'write the Paperclip server pods\' labels, such as {"app": "paperclip-server"}',
    );
    return;
  }
  if (Object.keys(selector).length === 0) {
    report.errors.push(
      "paperclipServerPodSelector: is empty, so it selects no Paperclip server pod; " +
        'write the server pods\' labels, such as {"app": "paperclip-server"}',
    );
    return;
  }
  const callback = { namespace: UPSTREAM_SERVER_NAMESPACE, podLabels: { ...selector }, port: UPSTREAM_SERVER_PORT };
  if (config.serverCallback !== undefined && !deepEqual(config.serverCallback, callback)) {
    report.errors.push(
      "paperclipServerPodSelector: conflicts with serverCallback, which names the callback target too; " +
        "keep serverCallback and remove paperclipServerPodSelector",
    );
    return;
  }
  config.serverCallback = callback;
}

/**
 * The provider's pod-exec WebSocket keepalive ("K8s-B"). Its normalised
 * configurations carry the defaults, which are dropped with a warning; any
 * other value asks for a behaviour leasebox's exec has no setting for.
 */
function mapExecKeepalive(config: Json, report: Report): void {
  for (const [name, upstreamDefault] of Object.entries(UPSTREAM_EXEC_DEFAULTS)) {
    if (!(name in config)) continue;
    const value = config[name];
    delete config[name];
    const least = name === "execKeepaliveIntervalSec" ? 0 : 1;
    if (!isInteger(value, least, Number.MAX_SAFE_INTEGER)) {
      report.errors.push(
        `${name}: must be a whole number of seconds (${least} or more), not ${describe(value)}; remove the field`,
      );
    } else if (value === upstreamDefault) {
      report.warnings.push(
        `${name} (${value}, the Kubernetes provider's default) is not used: leasebox's exec has no keepalive setting.`,
      );
    } else {
      report.errors.push(
        `${name}: leasebox's exec has no keepalive setting, so ${value} cannot be honoured; ` +
          `remove the field (or set the provider's default ${upstreamDefault})`,
      );
    }
  }
}

/**
 * `adapters[]` and `runtimeImages`. A list that uses the provider's entry
 * fields (`runtimeImage`, `enabled`, an argv `probeCommand`) is the
 * provider's registry, which replaces the built-ins; the adapter types it
 * enables are returned. Otherwise null.
 */
function mapAdapters(config: Json, report: Report): string[] | null {
  const images = takeRuntimeImages(config, report);
  const declared = config.adapters;
  if (declared !== undefined && !Array.isArray(declared)) {
    // leasebox's validation names `adapters`; the images wait for a list.
    if (Object.keys(images).length > 0) {
      report.errors.push("runtimeImages: not applied, because adapters is not a list; make adapters a list");
    }
    return null;
  }
  const entries: unknown[] = declared ?? [];
  const replacesBuiltins = entries.some(isProviderEntry);

  const mapped: unknown[] = [];
  const enabled: string[] = [];
  const disabled = new Set<string>();
  const imaged = new Set<string>();
  entries.forEach((entry, i) => {
    if (!isRecord(entry)) {
      mapped.push(entry);
      return;
    }
    const path = `adapters[${i}]`;
    const adapter: Json = { ...entry };
    const adapterType = typeof adapter.adapterType === "string" ? adapter.adapterType : null;
    if ("enabled" in adapter) {
      const on = adapter.enabled;
      delete adapter.enabled;
      if (typeof on !== "boolean") {
        report.errors.push(`${path}.enabled: must be true or false, not ${describe(on)}; fix the value`);
        return;
      }
      if (!on) {
        if (adapterType !== null) disabled.add(adapterType);
        return;
      }
    }
    if ("runtimeImage" in adapter) {
      const image = adapter.runtimeImage;
      delete adapter.runtimeImage;
      if (typeof image !== "string" || image.trim() === "") {
        report.errors.push(
          `${path}.runtimeImage: must be an image reference, not ${describe(image)}; write the image, such as \`registry.example.com/agent:1\``,
        );
        return;
      }
      if (adapter.image !== undefined && adapter.image !== image) {
        report.errors.push(`${path}.runtimeImage: differs from ${path}.image; keep one of them`);
        return;
      }
      adapter.image = image;
    }
    if (Array.isArray(adapter.probeCommand)) {
      const argv = adapter.probeCommand;
      if (!argv.every((a) => typeof a === "string")) {
        report.errors.push(`${path}.probeCommand: must be an argv of strings; write it as ["claude", "--version"]`);
        return;
      }
      if (argv.length === 0) delete adapter.probeCommand;
      else adapter.probeCommand = shellQuote(argv);
    }
    if (adapterType !== null && adapterType in images) {
      const image = images[adapterType];
      imaged.add(adapterType);
      if (adapter.image === undefined) adapter.image = image;
      else if (adapter.image !== image) {
        report.errors.push(
          `runtimeImages.${adapterType}: differs from the image of ${path}; keep one of them`,
        );
        return;
      }
    }
    if (replacesBuiltins && adapter.image === undefined && adapterType !== null) {
      report.errors.push(
        `${path}.runtimeImage: missing, and the Kubernetes provider cannot run an adapter without one; ` +
          `give its image (or runtimeImages.${adapterType}), or set enabled: false`,
      );
      return;
    }
    mapped.push(adapter);
    if (adapterType !== null) enabled.push(adapterType);
  });

  for (const [adapterType, image] of Object.entries(images)) {
    if (imaged.has(adapterType) || disabled.has(adapterType)) continue;
    const builtin = LEASEBOX_BUILTIN_ADAPTERS[adapterType];
    if (replacesBuiltins) {
      report.warnings.push(
        `runtimeImages.${adapterType} is not used: adapters[] replaces the built-in adapters and does not enable ${adapterType}.`,
      );
    } else if (builtin) {
      mapped.push({
        adapterType,
        image,
        envKeys: [...builtin.envKeys],
        allowFqdns: [...builtin.allowFqdns],
        probeCommand: builtin.probeCommand,
      });
    } else {
      report.errors.push(
        `runtimeImages.${adapterType}: there is no adapter \`${adapterType}\`; declare it in adapters[] ` +
          `or use a built-in (${Object.keys(LEASEBOX_BUILTIN_ADAPTERS).join(", ")})`,
      );
    }
  }

  if (declared !== undefined || mapped.length > 0) config.adapters = mapped;
  return replacesBuiltins ? enabled : null;
}

/** Removes `runtimeImages` from `config` and returns it, checked and trimmed (the provider trims). */
function takeRuntimeImages(config: Json, report: Report): Record<string, string> {
  if (!("runtimeImages" in config)) return {};
  const value = config.runtimeImages;
  delete config.runtimeImages;
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === "string" && v.trim() !== "")) {
    report.errors.push(
      `runtimeImages: must map adapter types to image references, not ${describe(value)}; ` +
        'write it as {"claude_local": "registry.example.com/claude:1"}',
    );
    return {};
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, (v as string).trim()]));
}

/** Whether an `adapters[]` entry uses a field only the Kubernetes provider's registry has. */
function isProviderEntry(entry: unknown): boolean {
  return isRecord(entry) && ("runtimeImage" in entry || "enabled" in entry || Array.isArray(entry.probeCommand));
}

/**
 * One POSIX shell command line that runs `argv` as given: words of safe
 * characters stay bare, the others are single-quoted (`'` written `'\''`).
 */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/**
 * The JSON Schema the plugin's manifest publishes as its driver
 * `configSchema`: leasebox's (as printed by `leasebox schema`), extended with
 * the Kubernetes provider's names and the Paperclip server's keys, so an
 * environment written for either validates. `kubeconfig` is marked
 * `format: "secret-ref"`, which Paperclip stores as a company secret.
 */
export function configSchemaFor(leaseboxSchema: object): object {
  const schema = structuredClone(leaseboxSchema) as Json;
  const properties: Json = isRecord(schema.properties) ? schema.properties : {};
  schema.properties = properties;

  if (isRecord(properties.kubeconfig)) properties.kubeconfig = { ...properties.kubeconfig, format: "secret-ref" };
  if (isRecord(properties.imageRegistry)) {
    properties.imageRegistry = {
      ...properties.imageRegistry,
      description: `${String(properties.imageRegistry.description ?? "")} A URL (\`https://host/path\`) is accepted and loses its scheme.`.trim(),
    };
  }
  for (const [name, property] of Object.entries(EXTRA_PROPERTIES)) {
    if (!(name in properties)) properties[name] = structuredClone(property);
  }

  const defs = isRecord(schema.$defs) ? schema.$defs : {};
  const adapter = defs.AdapterDecl;
  if (isRecord(adapter) && isRecord(adapter.properties)) {
    const adapterProperties: Json = { ...adapter.properties };
    adapterProperties.runtimeImage = {
      description: "Kubernetes provider name of `image`.",
      type: "string",
    };
    adapterProperties.enabled = {
      description: "Kubernetes provider: false leaves the adapter out (default true).",
      type: "boolean",
      default: true,
    };
    const probe = isRecord(adapterProperties.probeCommand) ? adapterProperties.probeCommand : {};
    adapterProperties.probeCommand = {
      description: probe.description,
      anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }, { type: "null" }],
    };
    defs.AdapterDecl = { ...adapter, properties: adapterProperties, required: ["adapterType"] };
  }
  const cpuMemory = defs.CpuMemory;
  if (isRecord(cpuMemory)) {
    // The Kubernetes provider accepts either of the two; the mapping fills the other.
    defs.CpuMemory = { ...cpuMemory, required: [] };
  }
  return schema;
}

/** The properties `configSchemaFor` adds, each saying what leasebox does with it. */
const EXTRA_PROPERTIES: Record<string, Json> = {
  kubeconfigSecretRef: {
    description: "Kubernetes provider (README only): not used; the operator's settings choose the cluster.",
    type: "string",
  },
  runtimeImages: {
    description: "Kubernetes provider: image per adapter type; mapped to the adapters' `image`.",
    type: "object",
    additionalProperties: { type: "string", minLength: 1 },
  },
  paperclipServerPodSelector: {
    description: `Kubernetes provider: labels of the Paperclip server pods; mapped to \`serverCallback\` (namespace \`${UPSTREAM_SERVER_NAMESPACE}\`, port ${UPSTREAM_SERVER_PORT}).`,
    type: "object",
    additionalProperties: { type: "string" },
  },
  execKeepaliveIntervalSec: {
    description: `Kubernetes provider: exec keepalive; only its default ${UPSTREAM_EXEC_DEFAULTS.execKeepaliveIntervalSec} is accepted (not used).`,
    type: "integer",
    minimum: 0,
  },
  execLivenessTimeoutSec: {
    description: `Kubernetes provider: exec liveness; only its default ${UPSTREAM_EXEC_DEFAULTS.execLivenessTimeoutSec} is accepted (not used).`,
    type: "integer",
    minimum: 1,
  },
  reuseIdleTtlSec: {
    description: "Kubernetes provider: reusable-sandbox tuning; not used (leasebox keeps no sandbox between runs).",
    type: "integer",
    minimum: 60,
    maximum: 604800,
  },
  reuseMaxSandboxes: {
    description: "Kubernetes provider: reusable-sandbox tuning; not used (leasebox keeps no sandbox between runs).",
    type: "integer",
    minimum: 1,
    maximum: 100,
  },
  reuseResources: {
    description: "Kubernetes provider: reusable-sandbox tuning; not used (leasebox keeps no sandbox between runs).",
    type: "object",
  },
  reuseLease: {
    description: "Paperclip server: keep the sandbox between runs; only false is accepted.",
    type: "boolean",
    default: false,
  },
  timeoutMs: { description: "Paperclip server: its sandbox call timeout; not passed to leasebox.", type: "integer", minimum: 1 },
  runnerLifecycleMode: {
    description: "Paperclip server: runner lifecycle; not passed to leasebox.",
    type: "string",
    enum: ["inherit", "per_turn", "warm"],
  },
  runnerIdleTimeoutMs: { description: "Paperclip server: warm runner idle timeout; not passed to leasebox.", type: "integer", minimum: 1 },
  streamRunLogs: { description: "Paperclip server: stream run logs; not passed to leasebox.", type: "boolean" },
  archiveOnRelease: { description: "Paperclip server: archive on release; not passed to leasebox.", type: "boolean" },
  provider: { description: "Paperclip server: the sandbox provider key; not passed to leasebox.", type: "string" },
};

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPartial(value: unknown): value is Json {
  return isRecord(value) && (value.cpu === undefined || value.memory === undefined);
}

function isInteger(value: unknown, least: number, most: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= least && value <= most;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

function describe(value: unknown): string {
  return value === undefined ? "undefined" : JSON.stringify(value);
}

function listOrNone(items: readonly string[]): string {
  return items.length === 0 ? "none" : items.join(", ");
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}
