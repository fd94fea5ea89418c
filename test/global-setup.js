// Before any test: checks that the programs the tests drive are installed (one clear line
// each, and a stop, when one is not), then builds dist/ and public/js/ once so tests that
// start the real `node dist/src/main.js` run what `npm start` runs.
// JEST_SKIP_BUILD=1 skips the build, for running unit tests while other parts of the tree
// do not compile.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** True when `program` is an executable on PATH. */
function onPath(program) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, program), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function postgresInstalled() {
  const root = '/usr/lib/postgresql';
  return fs.existsSync(root) && fs.readdirSync(root).some((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')));
}

function checkPrograms() {
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  const missing = [];
  if (!fs.existsSync(chromium)) missing.push(`Chromium (${chromium}; or set CHROMIUM_PATH): apt-get install -y chromium`);
  if (!onPath('redis-server')) missing.push('redis-server: apt-get install -y redis-server');
  if (!postgresInstalled()) missing.push('PostgreSQL (initdb and postgres under /usr/lib/postgresql): apt-get install -y postgresql');
  if (missing.length === 0) return;
  for (const line of missing) console.error(`npm test needs ${line}`);
  process.exit(1);
}

module.exports = async () => {
  checkPrograms();
  if (process.env.JEST_SKIP_BUILD === '1') return;
  const root = path.resolve(__dirname, '..');
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // The client imports the protocol's types from their declarations (see client/tsconfig.protocol.json).
  execFileSync(process.execPath, [tsc, '-b', 'client/tsconfig.protocol.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [tsc, '-p', 'client/tsconfig.json'], { cwd: root, stdio: 'inherit' });
};
