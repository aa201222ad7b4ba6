/**
 * Galata in Debian's Chromium (never a downloaded browser), against a real JupyterLab.
 */
const { execFileSync } = require('child_process');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

/**
 * The test server's port: $DEARDIARY_UI_PORT (scripts/test.sh sets it), else a free port
 * chosen here. The tests never reuse a server they did not start (reuseExistingServer is
 * false): a JupyterLab already on the port makes the run fail at once, instead of the
 * tests running against it.
 *
 * Playwright evaluates this file in the main process and again in every worker (and in
 * its loader process). The port chosen in the main process is written to process.env
 * before any of them is forked, so they inherit it and every evaluation agrees; the web
 * server (`jlpm start`, jupyter_server_test_config.py) reads the same variable.
 */
if (!process.env.DEARDIARY_UI_PORT) {
  process.env.DEARDIARY_UI_PORT = execFileSync(
    process.execPath,
    [
      '-e',
      "const s = require('net').createServer();" +
        "s.listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); });"
    ],
    { encoding: 'utf8' }
  ).trim();
}
const PORT = process.env.DEARDIARY_UI_PORT;

/**
 * The TEST-ONLY Julia kernel imitates one IJulia generation per kernelspec
 * (ui-tests/test-kernel/README.md). Every spec runs with deardiary-test-julia-1.5
 * (IJulia 1.24); the tests of snapshot.spec.ts tagged @generations also run with the
 * kernelspecs of IJulia 1.27-1.30 and 1.31-1.34. `--project=ijulia-1.34` runs one.
 */
const GENERATIONS = [
  ['1.30', 'deardiary-test-julia-gen130'],
  ['1.34', 'deardiary-test-julia-gen134']
];

module.exports = {
  ...baseConfig,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${PORT}`,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  projects: [
    { name: 'ijulia-1.24', use: { juliaKernel: 'deardiary-test-julia-1.5' } },
    ...GENERATIONS.map(([generation, kernel]) => ({
      name: `ijulia-${generation}`,
      use: { juliaKernel: kernel },
      testMatch: /ui-tests[\\/]tests[\\/]snapshot\.spec\.ts$/,
      grep: /@generations/
    }))
  ],
  webServer: {
    command: 'jlpm start',
    url: `http://localhost:${PORT}/lab`,
    timeout: 120 * 1000,
    // Never a server the tests did not start (see PORT).
    reuseExistingServer: false
  }
};

/**
 * Issue 19, the frontends (scripts/frontends.sh runs them, each in its own venv):
 * DEARDIARY_UI_FRONTEND=notebook serves Notebook 7 (`jupyter notebook`) and runs only
 * tests/frontends/notebook7.spec.ts (plain Playwright, project `notebook7`); every
 * other run ignores that folder. The Lab smoke is tests/smoke.spec.ts (ijulia-1.24).
 */
{
  const cfg = module.exports;
  const FRONTENDS = /ui-tests[\\/]tests[\\/]frontends[\\/]/;
  if (process.env.DEARDIARY_UI_FRONTEND === 'notebook') {
    cfg.projects = [
      {
        name: 'notebook7',
        testMatch: FRONTENDS,
        use: { baseURL: `http://localhost:${PORT}/` }
      }
    ];
    cfg.webServer = {
      ...cfg.webServer,
      command:
        'jupyter notebook --config jupyter_server_test_config.py --JupyterNotebookApp.expose_app_in_browser=True',
      url: `http://localhost:${PORT}/tree`
    };
  } else {
    cfg.projects = cfg.projects.map(p => ({ ...p, testIgnore: FRONTENDS }));
  }
}
