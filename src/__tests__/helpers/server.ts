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
import { ServerConnection } from '@jupyterlab/services';
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
