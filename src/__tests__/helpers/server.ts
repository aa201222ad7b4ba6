/**
 * Start a real jupyter_server for Node-side tests (jest project "server").
 * The Python comes from $DEARDIARY_PYTHON (default: `python` on PATH); the repository
 * is put on PYTHONPATH so the server extension loads without being installed.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import {
  KernelManager,
  ServerConnection,
  Session,
  SessionManager
} from '@jupyterlab/services';
import WebSocket from 'ws';

export const REPO = path.resolve(__dirname, '..', '..', '..');

export interface ITestServer {
  root: string;
  token: string;
  baseUrl: string;
  settings: ServerConnection.ISettings;
  stop(): Promise<void>;
}

export interface IServerOptions {
  /** Enable the deardiary server extension (default true). */
  extension?: boolean;
  /** Extra command-line options. */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
}

export async function startServer(
  options: IServerOptions = {}
): Promise<ITestServer> {
  const root = fs.realpathSync(
    fs.mkdtempSync(path.join(os.tmpdir(), 'deardiary-root-'))
  );
  const port = await freePort();
  const token = `test-${Math.random().toString(36).slice(2)}`;
  // A config file (not a flag) so that an installed copy can also be switched off.
  const configDir = path.join(root, '.jupyter-config');
  fs.mkdirSync(configDir);
  fs.writeFileSync(
    path.join(configDir, 'jupyter_server_config.json'),
    JSON.stringify({
      ServerApp: {
        jpserver_extensions: {
          jupyterlab_deardiary: options.extension !== false
        }
      }
    })
  );
  const python = process.env.DEARDIARY_PYTHON ?? 'python';
  const child = spawn(
    python,
    [
      '-m',
      'jupyter_server',
      `--ServerApp.port=${port}`,
      '--ServerApp.port_retries=0',
      '--ServerApp.ip=127.0.0.1',
      `--IdentityProvider.token=${token}`,
      `--ServerApp.root_dir=${root}`,
      '--ServerApp.open_browser=False',
      '--ServerApp.allow_root=True',
      ...(options.args ?? [])
    ],
    {
      env: {
        ...process.env,
        PYTHONPATH: [REPO, process.env.PYTHONPATH]
          .filter(Boolean)
          .join(path.delimiter),
        JUPYTER_CONFIG_DIR: configDir,
        ...options.env
      },
      stdio: ['ignore', 'ignore', 'pipe']
    }
  );
  let log = '';
  child.stderr!.on('data', chunk => (log += chunk.toString()));
  const baseUrl = `http://127.0.0.1:${port}/`;
  await waitForServer(child, `${baseUrl}api/status?token=${token}`, () => log);
  const settings = ServerConnection.makeSettings({
    baseUrl,
    wsUrl: `ws://127.0.0.1:${port}/`,
    token,
    appendToken: true,
    WebSocket: WebSocket as any
  });
  return {
    root,
    token,
    baseUrl,
    settings,
    stop: async () => {
      const exited = new Promise(resolve => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(root, { recursive: true, force: true });
    }
  };
}

export interface ISuiteOptions extends IServerOptions {
  /** Called with the server's root once it runs (before the session starts). */
  prepare?: (root: string) => void;
  /** Start a notebook session at this path with this kernel. */
  session?: { path: string; kernel: string };
  /** The beforeAll's timeout (jest's default if unset). */
  timeout?: number;
}

/** What {@link useServer} starts; set by its beforeAll. */
export interface ISuiteServer {
  server: ITestServer;
  kernels: KernelManager;
  sessions: SessionManager;
  /** Only with `session`. */
  session: Session.ISessionConnection;
}

/**
 * Start a server for the tests of the calling describe block (its beforeAll), with
 * `session` also a KernelManager, a SessionManager and a notebook session; after them
 * (its afterAll) shut the session down, dispose both managers (or jest does not exit)
 * and stop the server. jest runs afterAll hooks in the order they were declared.
 */
export function useServer(options: ISuiteOptions = {}): ISuiteServer {
  const { prepare, session, timeout, ...serverOptions } = options;
  const suite = {} as ISuiteServer;
  beforeAll(async () => {
    suite.server = await startServer(serverOptions);
    prepare?.(suite.server.root);
    if (!session) {
      return;
    }
    suite.kernels = new KernelManager({
      serverSettings: suite.server.settings
    });
    suite.sessions = new SessionManager({
      serverSettings: suite.server.settings,
      kernelManager: suite.kernels
    });
    await suite.sessions.ready;
    suite.session = await suite.sessions.startNew({
      path: session.path,
      type: 'notebook',
      name: path.basename(session.path),
      kernel: { name: session.kernel }
    });
  }, timeout);
  afterAll(async () => {
    await suite.session?.shutdown().catch(() => undefined);
    suite.sessions?.dispose();
    suite.kernels?.dispose();
    await suite.server?.stop();
  });
  return suite;
}

async function waitForServer(
  child: ChildProcess,
  url: string,
  log: () => string
) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`jupyter server exited (${child.exitCode}):\n${log()}`);
    }
    try {
      const response = await fetch(url);
      if (response.ok) {
        return;
      }
    } catch {
      // not up yet
    }
    await new Promise(r => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`jupyter server did not start in 60 s:\n${log()}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
