/**
 * A lease's deadline from Paperclip's `requestedExpiresAt`: the sandbox must
 * be gone at or before it, and the lease says when it really goes.
 *
 * leasebox bounds every lease by `leaseMaxAgeSec` from its creation (the
 * workload's `leasebox.dev/expires-at`, a Sandbox's `shutdownTime`; `sweep`
 * deletes it then). A configuration can narrow that bound, so the plugin
 * narrows it to the time left before the requested deadline: the lease is
 * born bounded. Whole seconds and the time the acquire takes can put the
 * lease's own deadline a second past the requested one; it is then moved
 * (`renew` with an explicit `now`) to fall at or before it. A deadline that
 * cannot be met fails closed: nothing is acquired, or the lease is released.
 */

/** The shortest time before a requested deadline an acquire is tried with: a lease has to start and do work. */
export const MIN_LEAD_SECONDS = 30;

/** What the requested deadline asks of an acquire. */
export type Deadline =
  | { kind: 'none' }
  | { kind: 'at'; at: Date; maxAgeSeconds: number }
  | { kind: 'unmeetable'; reason: string };

/**
 * Reads `requestedExpiresAt` at `now` against the configuration's own
 * `leaseMaxAgeSec`, or `defaultMaxAge` (the schema's default) when it has
 * none: the narrowed bound is never longer than either.
 */
export function deadlineOf(
  requestedExpiresAt: string | null | undefined,
  now: Date,
  configuredMaxAge: unknown,
  defaultMaxAge: number,
): Deadline {
  if (requestedExpiresAt === undefined || requestedExpiresAt === null) {
    return { kind: 'none' };
  }
  const at = new Date(requestedExpiresAt);
  if (Number.isNaN(at.getTime())) {
    return { kind: 'unmeetable', reason: `requestedExpiresAt \`${requestedExpiresAt}\` is not an ISO 8601 time` };
  }
  const seconds = Math.floor((at.getTime() - now.getTime()) / 1000);
  if (seconds < MIN_LEAD_SECONDS) {
    return {
      kind: 'unmeetable',
      reason: `requestedExpiresAt ${at.toISOString()} is ${seconds < 0 ? 'in the past' : `${seconds} s away`}; a lease needs at least ${MIN_LEAD_SECONDS} s before its deadline`,
    };
  }
  const ownBound =
    typeof configuredMaxAge === 'number' && Number.isInteger(configuredMaxAge) && configuredMaxAge > 0
      ? configuredMaxAge
      : defaultMaxAge;
  const maxAgeSeconds = Math.min(ownBound, seconds);
  return { kind: 'at', at, maxAgeSeconds };
}

/** Seconds from `now` to `at`, rounded down: the `ttlSeconds` of a `renew` at `now` that ends at or before `at`. */
export function secondsUntil(at: Date, now: Date): number {
  return Math.floor((at.getTime() - now.getTime()) / 1000);
}

/** Whether a lease that expires at `expiresAt` (RFC 3339) is gone by `at`. */
export function endsBy(expiresAt: string, at: Date): boolean {
  const ends = Date.parse(expiresAt);
  return !Number.isNaN(ends) && ends <= at.getTime();
}
