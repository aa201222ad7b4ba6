/**
 * The restore's kernel side for real: @jupyterlab/services over `ws`, a real
 * jupyter_server, and the TEST-ONLY Julia kernel (real Julia 1.5.3). The activation and
 * Pkg.instantiate() code the restore sends, and the streaming of a silent request's
 * output, which the instantiate log relies on.
 */
import * as fs from 'fs';
import * as path from 'path';
import { KernelManager, Session, SessionManager } from '@jupyterlab/services';
import { activateCode, execute, INSTANTIATE_CODE } from '../restore/execute';
import { ITestServer, REPO, startServer } from './helpers/server';

/** A stdlib-only project, as Julia 1.5 writes it (real stdlib UUIDs). */
function project(folder: string): void {
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(
    path.join(folder, 'Project.toml'),
    '[deps]\nDates = "ade2ca70-3891-5945-98fb-dc099432e06a"\n'
  );
  fs.writeFileSync(
    path.join(folder, 'Manifest.toml'),
    '# This file is machine-generated - editing it directly is not advised\n\n' +
      '[[Dates]]\ndeps = ["Printf"]\nuuid = "ade2ca70-3891-5945-98fb-dc099432e06a"\n\n' +
      '[[Printf]]\ndeps = ["Unicode"]\nuuid = "de0858da-6303-5e67-8744-51eddeeeb8d7"\n\n' +
      '[[Unicode]]\nuuid = "4ec0a83e-493e-50e2-b9ac-8f72acf5a8f5"\n'
  );
}

describe('restore code in the test Julia kernel', () => {
  let server: ITestServer;
  let kernels: KernelManager;
  let sessions: SessionManager;
  let session: Session.ISessionConnection;

  beforeAll(async () => {
    server = await startServer({
      env: { JUPYTER_PATH: path.join(REPO, 'ui-tests', 'test-kernel') }
    });
    fs.mkdirSync(path.join(server.root, 'nb'));
    kernels = new KernelManager({ serverSettings: server.settings });
    sessions = new SessionManager({
      serverSettings: server.settings,
      kernelManager: kernels
    });
    await sessions.ready;
    // Started without --project: the kernel is in the default environment.
    session = await sessions.startNew({
      path: 'nb/run.ipynb',
      type: 'notebook',
      name: 'run.ipynb',
      kernel: { name: 'deardiary-test-julia-noproject' }
    });
  }, 120000);

  afterAll(async () => {
    await session?.shutdown().catch(() => undefined);
    sessions?.dispose();
    kernels?.dispose();
    await server?.stop();
  });

  const run = async (code: string) => {
    const chunks: Array<[string, number]> = [];
    const reply = await execute(session.kernel!, code, text =>
      chunks.push([text, Date.now()])
    );
    return { reply, chunks, text: chunks.map(([t]) => t).join('') };
  };

  it('streams a silent request’s stdout and stderr while it runs', async () => {
    const { reply, chunks, text } = await run(
      'println("first"); flush(stdout); sleep(1.5); println(stderr, "second")'
    );
    expect(reply.status).toBe('ok');
    expect(text).toContain('first');
    expect(text).toContain('second');
    const first = chunks.find(([t]) => t.includes('first'))![1];
    const second = chunks.find(([t]) => t.includes('second'))![1];
    expect(second - first).toBeGreaterThan(1000);
  }, 60000);

  it('activates a folder whose path needs escaping, then instantiates it offline', async () => {
    const folder = path.join(server.root, 'restored "$x" \\ é');
    project(folder);
    const activated = await run(activateCode(folder));
    expect(activated.reply.status).toBe('ok');
    const active = await run('println(Base.active_project())');
    expect(active.text.trim()).toBe(path.join(folder, 'Project.toml'));

    const installed = await run(INSTANTIATE_CODE);
    expect(installed.reply).toMatchObject({ status: 'ok' });
  }, 120000);

  it('reports Pkg’s error as an error reply (a manifest it cannot read)', async () => {
    const folder = path.join(server.root, 'broken');
    project(folder);
    expect((await run(activateCode(folder))).reply.status).toBe('ok');
    fs.appendFileSync(path.join(folder, 'Manifest.toml'), '\n[[Broken\n');
    const failed = await run(INSTANTIATE_CODE);
    expect(failed.reply).toMatchObject({ status: 'error' });
  }, 120000);
});
