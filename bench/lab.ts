/**
 * Helpers of the Playwright store benchmarks (bench/sidebar.spec.ts, bench/click.spec.ts):
 * seeded stores (bench/seed_store.py, through the server's own store module), a
 * JupyterLab of their own (ui-tests' TEST-ONLY server config: no token, the test Julia
 * kernel) on a store file of their choice, and the tab's memory.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type {
  Browser,
  CDPSession,
  Page
} from '../ui-tests/node_modules/@playwright/test';

export const REPO = path.resolve(__dirname, '..');
const UI_TESTS = path.join(REPO, 'ui-tests');

/** The Python of the project's venv (or $DEARDIARY_PYTHON). */
export function python(): string {
  return (
    process.env.DEARDIARY_PYTHON ?? path.join(REPO, '.venv', 'bin', 'python')
  );
}

/** The server root of a benchmark: $DEARDIARY_UI_ROOT, which must be throw-away. */
export function benchRoot(): string {
  const root = process.env.DEARDIARY_UI_ROOT;
  if (!root) {
    throw new Error(
      'Set DEARDIARY_UI_ROOT to a throw-away folder: the benchmark writes its stores there.'
    );
  }
  fs.mkdirSync(root, { recursive: true });
  return root;
}

export interface ISeeded {
  runs: number;
  environments: number;
  notebooks: number;
  packages: number;
  bytes: number;
  manifest_bytes: number;
  real_manifests: number;
  notes: number;
  seconds: number;
  cached: boolean;
}

/** A store of `runs` runs over 300 environments written to `file` (bench/seed_store.py). */
export function seed(
  file: string,
  runs: number,
  packages = Number(process.env.DEARDIARY_BENCH_PACKAGES ?? 400)
): ISeeded {
  const out = execFileSync(
    python(),
    [
      path.join(__dirname, 'seed_store.py'),
      '--runs',
      String(runs),
      '--packages',
      String(packages),
      '--out',
      file,
      '--json'
    ],
    { cwd: REPO, encoding: 'utf8', maxBuffer: 1 << 20, timeout: 30 * 60000 }
  );
  return JSON.parse(out.trim().split('\n').pop()!);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ILab {
  url: string;
  port: number;
  root: string;
  /** The store file (absolute). */
  store: string;
  stop(): Promise<void>;
}

/**
 * JupyterLab with ui-tests' TEST-ONLY config (jupyter_server_test_config.py: no token,
 * the app on window, the test kernels), on `root`, the store at `storePath` (relative to
 * the root), automatic capture off (user settings of its own). Stopped by stop() (POST
 * /api/shutdown, which shuts its kernels down, then SIGTERM if need be).
 */
export async function startLab(
  root: string,
  storePath: string,
  port?: number
): Promise<ILab> {
  const p = port ?? (await freePort());
  const settings = fs.mkdtempSync(path.join(root, '.settings-'));
  fs.mkdirSync(path.join(settings, 'jupyterlab-deardiary'), {
    recursive: true
  });
  fs.writeFileSync(
    path.join(settings, 'jupyterlab-deardiary', 'snapshot.jupyterlab-settings'),
    JSON.stringify({ autoCapture: 'off' })
  );
  const log = fs.openSync(path.join(root, `.server-${p}.log`), 'w');
  const venv = path.join(REPO, '.venv', 'bin');
  const child: ChildProcess = spawn(
    path.join(venv, 'jupyter'),
    [
      'lab',
      '--config',
      path.join(UI_TESTS, 'jupyter_server_test_config.py'),
      `--DearDiary.store_path=${storePath}`,
      `--LabApp.user_settings_dir=${settings}`
    ],
    {
      cwd: UI_TESTS,
      env: {
        ...process.env,
        PATH: `${venv}:${process.env.PATH}`,
        DEARDIARY_UI_PORT: String(p),
        DEARDIARY_UI_ROOT: root
      },
      stdio: ['ignore', log, log]
    }
  );
  const url = `http://localhost:${p}`;
  const deadline = Date.now() + 120000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(
        `jupyter lab exited (${child.exitCode}); see ${root}/.server-${p}.log`
      );
    }
    try {
      if ((await fetch(`${url}/api/status`)).ok) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('jupyter lab did not start within 120 s');
    }
    await new Promise(resolve => setTimeout(resolve, 250));
  }
  return {
    url,
    port: p,
    root,
    store: path.join(root, storePath),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise(resolve => child.once('exit', resolve));
        try {
          await fetch(`${url}/api/shutdown`, { method: 'POST' });
        } catch {
          // already going
        }
        const timer = setTimeout(() => child.kill('SIGTERM'), 15000);
        await exited;
        clearTimeout(timer);
      }
      fs.closeSync(log);
    }
  };
}

/** Load JupyterLab in `page` and wait until it is restored. */
export async function gotoLab(page: Page, lab: ILab): Promise<void> {
  await page.goto(`${lab.url}/lab`);
  await page.waitForFunction(() => !!(window as any).jupyterapp, undefined, {
    timeout: 120000
  });
  await page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    await app.started;
    await app.restored;
  });
}

/** Open a notebook and wait for its kernel: started, connected and idle. */
export async function openNotebook(page: Page, file: string): Promise<void> {
  await page.evaluate(async file => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', {
      path: file
    });
  }, file);
  await page.waitForFunction(
    file => {
      const widget = (window as any).jupyterapp.shell.currentWidget;
      const kernel = widget?.sessionContext?.session?.kernel;
      return (
        widget?.context?.path === file &&
        kernel?.status === 'idle' &&
        kernel?.connectionStatus === 'connected'
      );
    },
    file,
    { timeout: 120000 }
  );
}

export const JULIA_KERNEL = {
  name: 'deardiary-test-julia-1.5',
  display_name: 'Julia 1.5.3 (deardiary test)',
  language: 'julia'
};

/** An empty notebook for the test Julia kernel. */
export function juliaNotebook(): string {
  return JSON.stringify({
    cells: [
      {
        cell_type: 'code',
        source: 'x = 1',
        metadata: {},
        outputs: [],
        execution_count: null
      }
    ],
    metadata: { kernelspec: JULIA_KERNEL },
    nbformat: 4,
    nbformat_minor: 5
  });
}

export interface IMemory {
  /** CDP Performance.getMetrics JSHeapUsedSize (after a full GC), bytes. */
  jsHeap: number;
  /**
   * Proportional set size of Chromium's renderer processes (/proc/<pid>/smaps_rollup),
   * bytes: the JS heap plus what it leaves out (WebAssembly memories such as sql.js's
   * database, ArrayBuffers, the DOM). One tab is open, so they are its renderers.
   */
  rendererPss: number;
  renderers: number;
}

/** The memory of the page's tab after a full garbage collection. */
export async function tabMemory(
  page: Page,
  browser: Browser
): Promise<IMemory> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.enable');
  for (let i = 0; i < 3; i++) {
    await cdp.send('HeapProfiler.collectGarbage');
  }
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  await cdp.detach();
  const jsHeap =
    metrics.find((m: { name: string }) => m.name === 'JSHeapUsedSize')?.value ??
    NaN;
  const browserCdp = await browser.newBrowserCDPSession();
  let pids: number[] = [];
  try {
    const info = await browserCdp.send('SystemInfo.getProcessInfo');
    pids = info.processInfo
      .filter((p: { type: string }) => p.type === 'renderer')
      .map((p: { id: number }) => p.id);
  } finally {
    await browserCdp.detach();
  }
  let pss = 0;
  for (const pid of pids) {
    try {
      const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      pss += Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? NaN) * 1024;
    } catch {
      pss = NaN;
    }
  }
  return {
    jsHeap,
    rendererPss: pids.length ? pss : NaN,
    renderers: pids.length
  };
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

export function ms(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? 'n/a' : `${v.toFixed(1)} ms`;
}
