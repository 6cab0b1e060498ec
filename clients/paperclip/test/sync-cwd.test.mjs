// Where a post-upload command may run: inside the workspace or one of the
// operation's sandbox targets, written plainly.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SyncRefused, confinedCwd } from '../dist/sync.js';

const OPERATION = {
  operationId: 'op',
  files: [
    { sourcePath: '/host/tree', targetPath: '/home/agent/.claude', kind: 'directory' },
    { sourcePath: '/host/token', targetPath: '/tmp/login/token.json', kind: 'file' },
  ],
};
const FIELD = 'operations[0].postUploadCommands[0].cwd';

test('no cwd is the workspace', () => {
  assert.equal(confinedCwd(undefined, OPERATION, '/workspace/project', FIELD), '/workspace/project');
});

test("a cwd in the workspace, in a directory target, or in a file target's directory is kept", () => {
  for (const cwd of ['/workspace/project', '/workspace/project/src', '/home/agent/.claude', '/home/agent/.claude/skills', '/tmp/login']) {
    assert.equal(confinedCwd(cwd, OPERATION, '/workspace/project', FIELD), cwd);
  }
});

test('a trailing slash is dropped', () => {
  assert.equal(confinedCwd('/workspace/project/src/', OPERATION, '/workspace/project', FIELD), '/workspace/project/src');
});

test('a cwd elsewhere, beside a root, relative, or with dot segments is refused naming the field', () => {
  for (const cwd of ['/etc', '/workspace', '/workspace/projectile', '/home/agent', 'src', '/workspace/project/../..', '/workspace/project/./src', '/workspace//project']) {
    assert.throws(
      () => confinedCwd(cwd, OPERATION, '/workspace/project', FIELD),
      (error) => error instanceof SyncRefused && error.message.includes(FIELD),
      cwd,
    );
  }
});
