/**
 * The Playwright benchmarks (bench/lab-load.spec.ts, bench/sidebar.spec.ts,
 * bench/click.spec.ts): ui-tests' Galata setup (Debian Chromium, never a downloaded
 * browser; its own test JupyterLab on $DEARDIARY_UI_PORT or a free port, never a server it
 * did not start: lab-load uses it, sidebar and click start JupyterLabs of their own on
 * their stores, bench/lab.ts), tests taken from this folder. Run from ui-tests, after
 * `jlpm build:prod`, in a throw-away server root (the benchmarks write stores and a
 * 20,000-file repository there):
 *   cd ui-tests && DEARDIARY_UI_ROOT=$(mktemp -d) \
 *     jlpm playwright test -c ../bench/playwright.config.js [lab-load|sidebar|click]
 */
const path = require('path');
const base = require('../ui-tests/playwright.config.js');

module.exports = {
  ...base,
  testDir: __dirname,
  testMatch: ['lab-load.spec.ts', 'sidebar.spec.ts', 'click.spec.ts'],
  outputDir: path.join(__dirname, '..', 'ui-tests', 'test-results', 'bench'),
  reporter: [['list']],
  webServer: {
    ...base.webServer,
    // `jlpm start` of ui-tests (jupyter_server_test_config.py), not of the root.
    cwd: path.join(__dirname, '..', 'ui-tests')
  }
};
