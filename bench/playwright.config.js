/**
 * The JupyterLab load benchmark (bench/lab-load.spec.ts): ui-tests' Galata setup (Debian
 * Chromium, never a downloaded browser; the test JupyterLab on port 8888), tests taken
 * from this folder. Run from ui-tests, after `jlpm build:prod`:
 *   cd ui-tests && jlpm playwright test -c ../bench/playwright.config.js
 */
const path = require('path');
const base = require('../ui-tests/playwright.config.js');

module.exports = {
  ...base,
  testDir: __dirname,
  testMatch: 'lab-load.spec.ts',
  outputDir: path.join(__dirname, '..', 'ui-tests', 'test-results', 'bench'),
  reporter: [['list']],
  webServer: {
    ...base.webServer,
    // `jlpm start` of ui-tests (jupyter_server_test_config.py), not of the root.
    cwd: path.join(__dirname, '..', 'ui-tests')
  }
};
