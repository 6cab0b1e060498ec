/**
 * The operator's settings of the plugin: the instance config Paperclip keeps
 * for it (`ctx.config.get()`), with environment variables as fallbacks.
 * Paperclip forks a worker with a minimal environment (`HOME PATH NODE_PATH
 * PAPERCLIP_PLUGIN_ID NODE_ENV TZ`), so `KUBECONFIG` and friends reach it
 * only when the operator passes them on.
 *
 * These settings pick the cluster and the host settings leasebox runs
 * with; an environment's own config (edited by company admins) never
 * does (README, Security model).
 */

/** Where `leasebox serve` comes from and how it reaches the cluster. */
export interface OperatorSettings {
  /** The leasebox binary (spawned as `leasebox serve`). */
  leaseboxBin: string;
  /** A running `leasebox serve --listen unix:PATH` to connect to instead of spawning one. */
  serveSocket: string | null;
  /** leasebox's host settings file (`--settings`). */
  settingsFile: string | null;
  /** The kubeconfig file (`--kubeconfig`). */
  kubeconfig: string | null;
  /** The kubeconfig context (`--context`). */
  context: string | null;
}

/** The instance-config schema of the manifest: the settings above, each optional. */
export const INSTANCE_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    leaseboxBin: {
      type: 'string',
      title: 'leasebox binary',
      description: 'Path of the leasebox binary; default LEASEBOX_BIN, then `leasebox` on the PATH.',
    },
    serveSocket: {
      type: 'string',
      title: 'leasebox serve socket',
      description:
        'Absolute path of the Unix socket of a running `leasebox serve --listen unix:PATH` (a sidecar); when set, no server is spawned and the settings below belong to that server.',
    },
    settingsFile: {
      type: 'string',
      title: 'Host settings file',
      description: "leasebox's host settings (YAML: fence, grants, secrets, sweep); default LEASEBOX_SETTINGS.",
    },
    kubeconfig: {
      type: 'string',
      title: 'Kubeconfig file',
      description: 'Path of the kubeconfig leasebox uses; default KUBECONFIG, then the in-cluster service account.',
    },
    context: {
      type: 'string',
      title: 'Kubeconfig context',
      description: "The kubeconfig's context; default its current context.",
    },
  },
} as const;

/** The keys of {@link INSTANCE_CONFIG_SCHEMA}: derived, not restated. */
const KEYS = Object.keys(INSTANCE_CONFIG_SCHEMA.properties) as (keyof OperatorSettings)[];

/**
 * The settings from the instance config, then the environment. Throws an
 * error naming the field and the fix for an unknown key, a value that is not
 * a non-empty string, a relative socket path, or a socket given together
 * with settings that only a spawned server can take.
 */
export function operatorSettings(instanceConfig: Record<string, unknown>, env: NodeJS.ProcessEnv): OperatorSettings {
  for (const key of Object.keys(instanceConfig)) {
    if (!(KEYS as string[]).includes(key)) {
      throw new Error(
        `plugin settings: unknown setting \`${key}\`; the settings are ${KEYS.join(', ')} (remove \`${key}\`)`,
      );
    }
  }
  const text = (key: keyof OperatorSettings, fallback: string | undefined): string | null => {
    const value = instanceConfig[key];
    if (value === undefined || value === null) {
      return fallback !== undefined && fallback !== '' ? fallback : null;
    }
    if (typeof value !== 'string' || value.trim() === '') {
      throw new Error(`plugin settings: \`${key}\` must be a non-empty string; fix it or leave it out`);
    }
    return value;
  };
  const settings: OperatorSettings = {
    leaseboxBin: text('leaseboxBin', env['LEASEBOX_BIN']) ?? 'leasebox',
    serveSocket: text('serveSocket', undefined),
    settingsFile: text('settingsFile', env['LEASEBOX_SETTINGS']),
    kubeconfig: text('kubeconfig', env['KUBECONFIG']),
    context: text('context', undefined),
  };
  if (settings.serveSocket !== null) {
    if (!settings.serveSocket.startsWith('/')) {
      throw new Error(
        `plugin settings: \`serveSocket\` must be an absolute path (the socket of \`leasebox serve --listen unix:PATH\`), not \`${settings.serveSocket}\``,
      );
    }
    const spawnOnly = (['settingsFile', 'kubeconfig', 'context'] as const).filter((key) => instanceConfig[key] !== undefined);
    if (spawnOnly.length > 0) {
      throw new Error(
        `plugin settings: ${spawnOnly.map((key) => `\`${key}\``).join(', ')} cannot be used with \`serveSocket\`: the server on the socket has its own; remove them or \`serveSocket\``,
      );
    }
  }
  return settings;
}

/** The flags of `leasebox serve` these settings give a spawned server. */
export function serveArgs(settings: OperatorSettings): string[] {
  const args: string[] = [];
  if (settings.settingsFile !== null) args.push('--settings', settings.settingsFile);
  if (settings.kubeconfig !== null) args.push('--kubeconfig', settings.kubeconfig);
  if (settings.context !== null) args.push('--context', settings.context);
  return args;
}
