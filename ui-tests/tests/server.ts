/**
 * A Jupyter server a spec owns (the Playwright-managed one cannot be stopped from a
 * test): JupyterLab with the same configuration as the Galata server
 * (jupyter_server_test_config.py: the extension, the TEST-ONLY kernels, the app exposed
 * on `window`), its own port and root, and a token unless told otherwise. It can be
 * stopped and started again on the same port and root (same origin: the browser's
 * IndexedDB is still there).
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Page, TestInfo } from '@playwright/test';
import type { IServer } from './store';

const CONFIG = path.join(__dirname, '..', 'jupyter_server_test_config.py');

/** A free TCP port on localhost (asked of the system, like playwright.config.js). */
export function freePort(): number {
  return Number(
    execFileSync(
      process.execPath,
      [
        '-e',
        "const s = require('net').createServer();" +
          "s.listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); });"
      ],
      { encoding: 'utf8' }
    ).trim()
  );
}

export class OwnServer implements IServer {
  /** `token: ''` serves without one (as Galata's server: its page fixtures need that). */
  constructor(
    options: {
      token?: string;
      port?: number;
      root?: string;
      /** Environment variables for the server (e.g. DEARDIARY_UI_NO_JULIA=1). */
      env?: Record<string, string>;
    } = {}
  ) {
    this._env = options.env ?? {};
    this.port = options.port ?? freePort();
    this.root =
      options.root ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dd-own-server-'));
    this.token = options.token ?? randomBytes(16).toString('hex');
    this.url = `http://localhost:${this.port}`;
  }

  readonly port: number;
  readonly root: string;
  readonly token: string;
  readonly url: string;

  /** What the server printed (for a failing test's message). */
  get output(): string {
    return this._output;
  }

  /** Start it and wait until it answers (GET /api/status with the token). */
  async start(): Promise<void> {
    if (this._process) {
      throw new Error('The server is running already.');
    }
    const child = spawn(
      'jupyter',
      [
        'lab',
        '--config',
        CONFIG,
        `--IdentityProvider.token=${this.token}`,
        '--ServerApp.shutdown_no_activity_timeout=0'
      ],
      {
        env: {
          ...process.env,
          DEARDIARY_UI_PORT: String(this.port),
          DEARDIARY_UI_ROOT: this.root,
          ...this._env
        },
        stdio: ['ignore', 'pipe', 'pipe']
      }
    );
    const keep = (data: Buffer) => {
      this._output = (this._output + data.toString()).slice(-20000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this._process = child;
    this._exited = new Promise(resolve => child.once('exit', () => resolve()));
    const deadline = Date.now() + 60000;
    for (;;) {
      if (child.exitCode !== null) {
        this._process = null;
        throw new Error(`The server exited at start:\n${this._output}`);
      }
      try {
        const headers: Record<string, string> = this.token
          ? { Authorization: `token ${this.token}` }
          : {};
        const response = await fetch(`${this.url}/api/status`, { headers });
        if (response.ok) {
          return;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop('SIGKILL');
        throw new Error(`The server did not answer in 60 s:\n${this._output}`);
      }
      await new Promise(resolve => setTimeout(resolve, 200));
    }
  }

  /**
   * Stop it and wait until the process has exited (SIGTERM: it shuts its kernels down;
   * SIGKILL after 30 s).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this._process;
    if (!child) {
      return;
    }
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 30000);
      await this._exited;
      clearTimeout(killer);
    }
    this._process = null;
  }

  /** Stop it and remove its root. */
  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** A test's end: its output joins a failed test's report, then it is disposed of. */
  async disposeAfter(testInfo: TestInfo): Promise<void> {
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('server output', { body: this.output });
    }
    await this.dispose();
  }

  /** Open its JupyterLab (with its token) and wait until the app is on `window`. */
  async openLab(page: Page): Promise<void> {
    await page.goto(`${this.url}/lab?token=${this.token}`);
    await page.waitForFunction(() => !!window.jupyterapp, undefined, {
      timeout: 60000
    });
  }

  private _env: Record<string, string>;
  private _process: ChildProcess | null = null;
  private _exited: Promise<void> = Promise.resolve();
  private _output = '';
}
