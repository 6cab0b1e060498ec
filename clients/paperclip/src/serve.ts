/**
 * The one `leasebox serve` of this worker: spawned with the operator's
 * settings (or connected to on the operator's socket), its log forwarded to
 * the plugin's log, restarted when it dies.
 */

import { LeaseboxClient, type LogEntry } from '@leasebox/client';
import type { PluginLogger } from '@paperclipai/plugin-sdk';

import { serveArgs, type OperatorSettings } from './settings.js';

/** The first wait before a restart; it doubles with each server that dies young, up to {@link MAX_BACKOFF_MS}. */
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** A server that ran this long died of something new: the next restart waits {@link FIRST_BACKOFF_MS} again. */
const HEALTHY_AFTER_MS = 60_000;

export class LeaseboxServer {
  private current: Promise<LeaseboxClient> | undefined;
  private stopped = false;
  private backoffMs = FIRST_BACKOFF_MS;
  private restartTimer: NodeJS.Timeout | undefined;

  /**
   * @param settings the operator's settings, read when a server starts
   * @param logger where the server's log lines and this class's notes go
   */
  constructor(
    private readonly settings: () => Promise<OperatorSettings>,
    private readonly logger: PluginLogger,
  ) {}

  /** The client of the running server; starts it first when none runs. Rejects once {@link stop} was called. */
  client(): Promise<LeaseboxClient> {
    if (this.stopped) {
      return Promise.reject(new Error('the plugin is shutting down: no more calls to leasebox serve'));
    }
    if (this.current === undefined) {
      const starting = this.start();
      this.current = starting;
      // A server that could not start is tried again on the next call.
      starting.catch(() => {
        if (this.current === starting) this.current = undefined;
      });
    }
    return this.current;
  }

  /** Ends the server (or the connection to it) and starts no other; calls in flight are cancelled by the server. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.close();
  }

  /** Ends the running server, if any; the next call starts a new one with the settings as they are then. */
  async restart(): Promise<void> {
    await this.close();
  }

  private async close(): Promise<void> {
    clearTimeout(this.restartTimer);
    const running = this.current;
    this.current = undefined;
    const client = await running?.catch(() => undefined);
    await client?.close().catch((error: unknown) => {
      this.logger.warn(`leasebox serve did not end cleanly: ${String(error)}`);
    });
  }

  private async start(): Promise<LeaseboxClient> {
    const settings = await this.settings();
    const startedAt = Date.now();
    const client =
      settings.serveSocket !== null
        ? await LeaseboxClient.connect(settings.serveSocket)
        : await LeaseboxClient.spawn({
            binary: settings.leaseboxBin,
            args: serveArgs(settings),
            env: process.env,
            onLog: (entry) => this.forward(entry),
          });
    const started = this.current;
    this.logger.info(
      settings.serveSocket !== null
        ? `connected to leasebox serve at unix:${settings.serveSocket}`
        : `started leasebox serve (pid ${client.pid}): ${settings.leaseboxBin} serve ${serveArgs(settings).join(' ')}`,
    );
    void client.ended.then((end) => {
      if (this.current !== started || this.stopped) {
        return;
      }
      this.current = undefined;
      if (Date.now() - startedAt >= HEALTHY_AFTER_MS) {
        this.backoffMs = FIRST_BACKOFF_MS;
      }
      const wait = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      const last = client.logs.slice(-3).map((entry) => entry.message).join(' | ');
      this.logger.error(
        `leasebox serve ended (code ${end.code}, signal ${end.signal}); restarting it in ${wait} ms${last ? `; its last messages: ${last}` : ''}`,
      );
      this.restartTimer = setTimeout(() => {
        if (!this.stopped && this.current === undefined) {
          this.client().catch((error: unknown) => {
            this.logger.error(`leasebox serve could not be restarted: ${String(error)}; the next call tries again`);
          });
        }
      }, wait);
      this.restartTimer.unref();
    });
    return client;
  }

  /** One log line of the server, at its level, in the plugin's log. */
  private forward(entry: LogEntry): void {
    const message = `leasebox serve: ${entry.context ? `${entry.context}: ` : ''}${entry.message}`;
    switch (entry.level.toLowerCase()) {
      case 'error':
        this.logger.error(message);
        break;
      case 'warn':
      case 'warning':
        this.logger.warn(message);
        break;
      case 'debug':
      case 'trace':
        this.logger.debug(message);
        break;
      default:
        this.logger.info(message);
    }
  }
}
