/**
 * Galata in Debian's Chromium (never a downloaded browser), against a real JupyterLab.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

/** The test server's port (jupyter_server_test_config.py reads the same variable). */
const PORT = process.env.DEARDIARY_UI_PORT ?? '8888';

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
  webServer: {
    command: 'jlpm start',
    url: `http://localhost:${PORT}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI
  }
};
