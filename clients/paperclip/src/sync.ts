/**
 * `environmentSyncIn` / `environmentSyncOut` over leasebox `files.syncIn` /
 * `files.syncOut`: every mapping field is carried (`mode`, `exclude`,
 * `followSymlinks`); `access` and `writablePath` are advisory in the SDK
 * and change no transfer, so they are not sent. Post-upload commands run
 * verbatim, in order, fail-fast; a command's `cwd` must be inside the
 * operation's sandbox root (the realized workspace, or a mapping's target),
 * checked here before anything is copied, and defaults to the workspace.
 */

import { mkdirSync } from 'node:fs';
import { dirname, posix } from 'node:path';

import type { LeaseboxClient, SyncInOperation, SyncOutOperation } from '@leasebox/client';
import type {
  PluginEnvironmentSyncResult,
  PluginSyncFileMapping,
  PluginSyncOperation,
} from '@paperclipai/plugin-sdk';

export interface SyncCall {
  client: LeaseboxClient;
  leaseId: string;
  namespace: string;
  operations: PluginSyncOperation[];
  /** The realized workspace (`lease.metadata.remoteCwd`), the default `cwd` of a post-upload command. */
  workspace: string;
  signal: AbortSignal;
}

/** A sync the plugin refuses before copying anything: the message names the field. */
export class SyncRefused extends Error {}

/** Copies each operation's files into the sandbox, then runs its commands; throws when a command fails. */
export async function syncIn(call: SyncCall): Promise<PluginEnvironmentSyncResult> {
  const operations: SyncInOperation[] = call.operations.map((operation, index) => ({
    operationId: operation.operationId,
    files: operation.files.map((mapping) => ({ ...mappingOf(mapping), mode: mapping.mode })),
    postUploadCommands: (operation.postUploadCommands ?? []).map((command, at) => ({
      command: command.command,
      cwd: confinedCwd(command.cwd, operation, call.workspace, `operations[${index}].postUploadCommands[${at}].cwd`),
      timeoutMs: command.timeoutMs,
    })),
  }));
  const report = await call.client.syncIn({
    providerLeaseId: call.leaseId,
    namespace: call.namespace,
    operations,
    signal: call.signal,
  });
  if (report.failedCommand !== undefined) {
    const failed = report.failedCommand;
    const how = failed.timedOut ? 'timed out' : `exited with code ${failed.exitCode}`;
    throw new Error(
      `syncIn: operation ${failed.operationId}: post-upload command \`${failed.command}\` ${how}; the operations after it were not run`,
    );
  }
  return { operations: report.operations.map(counts) };
}

/** Copies each operation's files out of the sandbox onto this machine. */
export async function syncOut(call: SyncCall): Promise<PluginEnvironmentSyncResult> {
  call.operations.forEach((operation, index) => {
    if ((operation.postUploadCommands ?? []).length > 0) {
      throw new SyncRefused(
        `syncOut: operations[${index}].postUploadCommands: commands run after an upload, not a download; leave them out`,
      );
    }
  });
  // leasebox lands a copy at its target but makes no parent: the parents of
  // each host target are made here first (0700, the copies' own modes apply
  // below them). The paths are this machine's, which is the server's when the
  // plugin spawned it.
  for (const operation of call.operations) {
    for (const mapping of operation.files) {
      if (mapping.targetPath.startsWith('/')) mkdirSync(dirname(mapping.targetPath), { recursive: true, mode: 0o700 });
    }
  }
  const operations: SyncOutOperation[] = call.operations.map((operation) => ({
    operationId: operation.operationId,
    files: operation.files.map((mapping) => ({ ...mappingOf(mapping), mode: mapping.mode })),
  }));
  const report = await call.client.syncOut({
    providerLeaseId: call.leaseId,
    namespace: call.namespace,
    operations,
    signal: call.signal,
  });
  return { operations: report.operations.map(counts) };
}

function mappingOf(mapping: PluginSyncFileMapping) {
  return {
    sourcePath: mapping.sourcePath,
    targetPath: mapping.targetPath,
    kind: mapping.kind,
    exclude: mapping.exclude,
    followSymlinks: mapping.followSymlinks,
  };
}

function counts(operation: { operationId: string; filesTransferred: number; bytesTransferred: number }) {
  return {
    operationId: operation.operationId,
    filesTransferred: operation.filesTransferred,
    bytesTransferred: operation.bytesTransferred,
  };
}

/**
 * A post-upload command's working directory: as given when it is absolute,
 * normalized and inside the workspace or one of the operation's sandbox
 * targets (a directory target, or a file target's directory); the
 * workspace when not given.
 */
export function confinedCwd(
  cwd: string | undefined,
  operation: PluginSyncOperation,
  workspace: string,
  field: string,
): string {
  if (cwd === undefined) {
    return workspace;
  }
  const plain = cwd.length > 1 ? cwd.replace(/\/+$/, '') : cwd;
  if (!plain.startsWith('/') || posix.normalize(plain) !== plain) {
    throw new SyncRefused(`syncIn: ${field}: \`${cwd}\` must be an absolute path without \`.\`, \`..\` or \`//\``);
  }
  const roots = [
    workspace,
    ...operation.files.map((mapping) =>
      mapping.kind === 'directory' ? mapping.targetPath : posix.dirname(mapping.targetPath),
    ),
  ].map((root) => posix.normalize(root));
  const inside = roots.some((root) => plain === root || plain.startsWith(root === '/' ? '/' : `${root}/`));
  if (!inside) {
    throw new SyncRefused(
      `syncIn: ${field}: \`${cwd}\` is outside the operation's sandbox roots (${roots.join(', ')}); run the command inside one of them`,
    );
  }
  return plain;
}
