// Writes leasebox's configuration schema, as the binary prints it, to
// src/leasebox-config.schema.json: the driver's configSchema is built from
// it (test/worker.test.mjs fails when the copy is stale). The binary is
// LEASEBOX_BIN, else `leasebox` on the PATH.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const binary = process.env.LEASEBOX_BIN ?? 'leasebox';
const schema = JSON.parse(execFileSync(binary, ['schema'], { encoding: 'utf8' }));
const target = new URL('../src/leasebox-config.schema.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(schema, null, 2)}\n`);
console.log(`wrote ${target.pathname} from \`${binary} schema\``);
