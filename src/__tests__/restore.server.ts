/**
 * The restore's kernel side for real: @jupyterlab/services over `ws`, a real
 * jupyter_server, and the TEST-ONLY Julia kernel (real Julia 1.5.3). The activation and
 * Pkg.instantiate() code the restore sends, and the streaming of a silent request's
 * output, which the instantiate log relies on.
 */
import * as fs from 'fs';
import * as path from 'path';
import { activateCode, execute, INSTANTIATE_CODE } from '../restore/execute';
import { GENERATIONS } from './helpers/generations';
import { REPO, useServer } from './helpers/server';

// Also written by the UI tests (ui-tests/tests/store.ts).
const STDLIB_PROJECT = path.join(__dirname, 'fixtures', 'stdlib-project');

/** A stdlib-only project, as Julia 1.5 writes it (real stdlib UUIDs). */
function project(folder: string): void {
  fs.mkdirSync(folder, { recursive: true });
  for (const name of ['Project.toml', 'Manifest.toml']) {
    // Written, not copied: new files with the usual mode, whatever the fixture's.
    const bytes = fs.readFileSync(path.join(STDLIB_PROJECT, name));
    fs.writeFileSync(path.join(folder, name), bytes);
  }
}

// Once per IJulia generation the test kernel imitates: from 1.32 every execute request,
// these silent ones too, goes through special_mode_strip and the execute hooks. The
// kernelspec without --project imitates the generation its server's environment names.
describe.each(GENERATIONS)(
  'restore code in the test Julia kernel, IJulia %s',
  generation => {
    const suite = useServer({
      env: {
        JUPYTER_PATH: path.join(REPO, 'ui-tests', 'test-kernel'),
        DEARDIARY_IJULIA_GEN: generation
      },
      prepare: root => fs.mkdirSync(path.join(root, 'nb')),
      // Started without --project: the kernel is in the default environment.
      session: {
        path: 'nb/run.ipynb',
        kernel: 'deardiary-test-julia-noproject'
      },
      timeout: 120000
    });

    const run = async (code: string) => {
      const chunks: Array<[string, number]> = [];
      const reply = await execute(suite.session.kernel!, code, text =>
        chunks.push([text, Date.now()])
      );
      return { reply, chunks, text: chunks.map(([t]) => t).join('') };
    };

    it('runs in a kernel imitating that generation', async () => {
      const info = await suite.session.kernel!.info;
      expect(info.banner).toContain(`imitating IJulia ${generation}`);
    });

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
      const folder = path.join(suite.server.root, 'restored "$x" \\ é');
      project(folder);
      const activated = await run(activateCode(folder));
      expect(activated.reply.status).toBe('ok');
      const active = await run('println(Base.active_project())');
      expect(active.text.trim()).toBe(path.join(folder, 'Project.toml'));

      const installed = await run(INSTANTIATE_CODE);
      expect(installed.reply).toMatchObject({ status: 'ok' });
    }, 120000);

    it('reports Pkg’s error as an error reply (a manifest it cannot read)', async () => {
      const folder = path.join(suite.server.root, 'broken');
      project(folder);
      expect((await run(activateCode(folder))).reply.status).toBe('ok');
      fs.appendFileSync(path.join(folder, 'Manifest.toml'), '\n[[Broken\n');
      const failed = await run(INSTANTIATE_CODE);
      expect(failed.reply).toMatchObject({ status: 'error' });
    }, 120000);
  }
);
