// A requested deadline read against the configuration's own bound.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MIN_LEAD_SECONDS, deadlineOf, endsBy, secondsUntil } from '../dist/expiry.js';

const NOW = new Date('2026-12-07T10:00:00Z');
const DAY = 86_400;

test('no requested deadline asks nothing', () => {
  assert.deepEqual(deadlineOf(undefined, NOW, undefined, DAY), { kind: 'none' });
  assert.deepEqual(deadlineOf(null, NOW, 600, DAY), { kind: 'none' });
});

test('a deadline ten minutes away narrows the bound to the whole seconds left', () => {
  const deadline = deadlineOf('2026-12-07T10:10:00.900Z', NOW, undefined, DAY);
  assert.equal(deadline.kind, 'at');
  assert.equal(deadline.maxAgeSeconds, 600);
  assert.equal(deadline.at.toISOString(), '2026-12-07T10:10:00.900Z');
});

test("a deadline further away than the configuration's bound keeps that bound; without one, leasebox's default", () => {
  assert.equal(deadlineOf('2026-12-07T12:00:00Z', NOW, 1800, DAY).maxAgeSeconds, 1800);
  assert.equal(deadlineOf('2026-12-20T10:00:00Z', NOW, undefined, DAY).maxAgeSeconds, DAY);
  assert.equal(deadlineOf('2026-12-20T10:00:00Z', NOW, 'not a number', DAY).maxAgeSeconds, DAY);
});

test('a deadline in the past, too close, or unreadable cannot be met, saying why', () => {
  const past = deadlineOf('2026-12-07T09:59:00Z', NOW, undefined, DAY);
  assert.equal(past.kind, 'unmeetable');
  assert.match(past.reason, /in the past/);
  const close = deadlineOf(new Date(NOW.getTime() + (MIN_LEAD_SECONDS - 1) * 1000).toISOString(), NOW, undefined, DAY);
  assert.equal(close.kind, 'unmeetable');
  assert.match(close.reason, /29 s away; a lease needs at least 30 s/);
  assert.equal(deadlineOf(new Date(NOW.getTime() + MIN_LEAD_SECONDS * 1000).toISOString(), NOW, undefined, DAY).kind, 'at');
  assert.match(deadlineOf('soon', NOW, undefined, DAY).reason, /`soon` is not an ISO 8601 time/);
});

test('a renew at now ends at or before the deadline; a lease ending at the deadline ends by it', () => {
  const at = new Date('2026-12-07T10:10:00.500Z');
  assert.equal(secondsUntil(at, NOW), 600);
  assert.equal(endsBy('2026-12-07T10:10:00Z', at), true);
  assert.equal(endsBy('2026-12-07T10:10:01Z', at), false);
  assert.equal(endsBy('garbage', at), false);
});
