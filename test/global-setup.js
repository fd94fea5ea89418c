// Builds dist/ and public/js/ once so tests that start the real `node dist/src/main.js` run what `npm start` runs.
// JEST_SKIP_BUILD=1 skips it, for running unit tests while other parts of the tree do not compile.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  if (process.env.JEST_SKIP_BUILD === '1') return;
  const root = path.resolve(__dirname, '..');
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // The client imports the protocol's types from their declarations (see client/tsconfig.protocol.json).
  execFileSync(process.execPath, [tsc, '-b', 'client/tsconfig.protocol.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [tsc, '-p', 'client/tsconfig.json'], { cwd: root, stdio: 'inherit' });
};
