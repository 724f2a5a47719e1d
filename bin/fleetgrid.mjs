#!/usr/bin/env node
// Launcher: fleetgrid is TypeScript run by Node 24's type stripping. When the node that
// started this file is older, re-run with the Node 24 that `make setup` installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  // A service runs under its memory settings (lib/runtime.ts): the same command, same PID.
  const { serviceRelaunch } = await import(resolve(root, 'lib/runtime.ts'));
  let relaunch;
  try {
    relaunch = serviceRelaunch(process.argv[2], process.env, process.execArgv, process.platform);
  } catch (error) {
    console.error(`fleetgrid: ${error.code ?? 'INTERNAL'}: ${error.message}`);
    process.exit(2);
  }
  if (relaunch) {
    const script = fileURLToPath(import.meta.url);
    process.execve(
      process.execPath,
      [process.execPath, ...process.execArgv, ...relaunch.nodeFlags, script, ...process.argv.slice(2)],
      relaunch.env,
    );
  }
  await import(resolve(root, 'cli/main.ts'));
} else {
  const node24 = resolve(root, '.cache/node24/node_modules/.bin/node');
  if (!existsSync(node24)) {
    console.error(
      `fleetgrid needs Node 24 or newer (this is ${process.version}); run \`make setup\` to install it.`,
    );
    process.exit(1);
  }
  const result = spawnSync(node24, [resolve(root, 'cli/main.ts'), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}
