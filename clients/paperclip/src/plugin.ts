/**
 * The plugin's definition: each environment hook of the SDK handed to
 * {@link LeaseboxProvider}, which `setup` makes with the worker's context.
 */

import type { PluginContext, PluginDefinition } from '@paperclipai/plugin-sdk';

import { LeaseboxProvider } from './provider.js';

/** The plugin's definition, over the provider `setup` makes. */
export function leaseboxPlugin(): PluginDefinition {
  let provider: LeaseboxProvider | undefined;
  const ready = (): LeaseboxProvider => {
    if (provider === undefined) throw new Error('the plugin is not set up yet (initialize first)');
    return provider;
  };
  return {
    async setup(ctx: PluginContext) {
      provider = new LeaseboxProvider(ctx);
    },
    async onConfigChanged() {
      // The operator's settings changed: the next call starts a server with them.
      await provider?.server.restart();
    },
    async onShutdown() {
      await provider?.shutdown();
    },
    onEnvironmentValidateConfig: (params) => ready().validateConfig(params),
    onEnvironmentProbe: (params) => ready().probe(params),
    onEnvironmentAcquireLease: (params) => ready().acquireLease(params),
    onEnvironmentResumeLease: (params) => ready().resumeLease(params),
    onEnvironmentReleaseLease: (params) => ready().releaseLease(params),
    onEnvironmentDestroyLease: (params) => ready().destroyLease(params),
    onEnvironmentRealizeWorkspace: (params) => ready().realizeWorkspace(params),
    onEnvironmentExecute: (params) => ready().execute(params),
    onEnvironmentSyncIn: (params) => ready().syncIn(params),
    onEnvironmentSyncOut: (params) => ready().syncOut(params),
    onLoginPtyOpen: (params) => ready().loginPtyOpen(params),
    onLoginPtyInput: (params) => ready().loginPtyInput(params),
    onLoginPtyStop: (params) => ready().loginPtyStop(params),
    onLoginPtyClose: (params) => ready().loginPtyClose(params),
  };
}
