/**
 * The worker Paperclip forks (`paperclipPlugin.worker`): the SDK's JSON-RPC
 * over stdio, serving {@link leaseboxPlugin}.
 */

import { definePlugin, runWorker } from '@paperclipai/plugin-sdk';

import { leaseboxPlugin } from './plugin.js';

const plugin = definePlugin(leaseboxPlugin());
export default plugin;
runWorker(plugin, import.meta.url);
