// The operator's settings: the instance config first, the environment after.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { operatorSettings, serveArgs } from '../dist/settings.js';

test('without settings: leasebox on the PATH and the environment fallbacks', () => {
  const settings = operatorSettings({}, { LEASEBOX_BIN: '/opt/leasebox', LEASEBOX_SETTINGS: '/etc/l.yaml', KUBECONFIG: '/k' });
  assert.deepEqual(settings, { leaseboxBin: '/opt/leasebox', serveSocket: null, settingsFile: '/etc/l.yaml', kubeconfig: '/k', context: null });
  assert.deepEqual(serveArgs(settings), ['--settings', '/etc/l.yaml', '--kubeconfig', '/k']);
  assert.equal(operatorSettings({}, {}).leaseboxBin, 'leasebox');
});

test('the instance config wins over the environment', () => {
  const settings = operatorSettings({ kubeconfig: '/mine', context: 'prod' }, { KUBECONFIG: '/theirs' });
  assert.deepEqual(serveArgs(settings), ['--kubeconfig', '/mine', '--context', 'prod']);
});

test('an unknown setting, an empty one and a relative socket are refused, naming them', () => {
  assert.throws(() => operatorSettings({ kubeConfig: '/k' }, {}), /unknown setting `kubeConfig`/);
  assert.throws(() => operatorSettings({ context: '' }, {}), /`context` must be a non-empty string/);
  assert.throws(() => operatorSettings({ leaseboxBin: 7 }, {}), /`leaseboxBin` must be a non-empty string/);
  assert.throws(() => operatorSettings({ serveSocket: 'run/l.sock' }, {}), /`serveSocket` must be an absolute path/);
});

test('a socket takes no settings of a spawned server, but ignores the environment fallbacks', () => {
  assert.throws(() => operatorSettings({ serveSocket: '/run/l.sock', settingsFile: '/s' }, {}), /`settingsFile` cannot be used with `serveSocket`/);
  const settings = operatorSettings({ serveSocket: '/run/l.sock' }, { KUBECONFIG: '/k' });
  assert.equal(settings.serveSocket, '/run/l.sock');
});
