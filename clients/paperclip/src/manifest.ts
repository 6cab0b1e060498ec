/**
 * The plugin's manifest: a sandbox-provider driver (under two keys, see
 * `DRIVER_KEYS`) whose configuration schema is leasebox's (what `leasebox
 * schema` prints, see `npm run schema`), widened to take a configuration
 * written for Paperclip's Kubernetes provider; and the operator's instance
 * settings.
 */

import { readFileSync } from 'node:fs';

import type { PaperclipPluginManifestV1 } from '@paperclipai/plugin-sdk';

import { configSchemaFor } from './config-mapping.js';
import { DRIVER_KEYS } from './provider.js';
import { INSTANCE_CONFIG_SCHEMA } from './settings.js';
import leaseboxSchema from './leasebox-config.schema.json' with { type: 'json' };

/** The package's own version, description and worker: the manifest's are the package's. */
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
  description: string;
  paperclipPlugin: { worker: string };
};

const manifest: PaperclipPluginManifestV1 = {
  id: 'leasebox.sandbox-provider',
  apiVersion: 1,
  version: pkg.version,
  displayName: 'leasebox sandboxes',
  description: pkg.description,
  author: 'leasebox',
  categories: ['automation'],
  capabilities: ['environment.drivers.register'],
  entrypoints: { worker: pkg.paperclipPlugin.worker },
  instanceConfigSchema: INSTANCE_CONFIG_SCHEMA as unknown as PaperclipPluginManifestV1['instanceConfigSchema'],
  environmentDrivers: DRIVER_KEYS.map((driverKey) => ({
    driverKey,
    kind: 'sandbox_provider' as const,
    displayName: driverKey === 'kubernetes' ? 'Kubernetes (leasebox, in place of Paperclip\'s provider)' : 'Kubernetes (leasebox)',
    description:
      driverKey === 'kubernetes'
        ? "leasebox under the driver key of Paperclip's own Kubernetes provider: its environments keep working unchanged. Install one of the two plugins, not both."
        : 'An isolated pod per run on Kubernetes, made by a swappable WebAssembly policy module: tenant namespace, quota, egress policy, per-run Secret; commands streamed with real exit codes.',
    configSchema: configSchemaFor(leaseboxSchema) as PaperclipPluginManifestV1['instanceConfigSchema'] & object,
    supportsReusableLeases: false,
    sandboxCapabilities: {
      reusableLeases: false,
      nativeSyncIn: true,
      nativeSyncOut: true,
      concurrentSyncOperations: true,
    },
    supportsLoginPty: true,
  })),
};

export default manifest;
