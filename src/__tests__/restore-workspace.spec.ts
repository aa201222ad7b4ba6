/**
 * Workspace-aware restore: the layout, the requests (one per folder), the pre-flight,
 * and the write with one confirmation, for a member of a real Julia 1.12 workspace.
 */
import { trans } from './helpers/trans';
import { runHints } from '../manifest/hints';
import { matchKernelspecs } from '../restore/kernelspec';
import { preflight, restoreRequest } from '../restore/plan';
import {
  flatWorkspace,
  IFolderRequest,
  unresolvedPaths,
  workspaceLayout,
  workspaceRequests,
  writeWorkspace
} from '../restore/workspace';
import { IRestoreRequest, IRestoreResult } from '../server/api';
import { IRunInput } from '../store/types';
import { FakeStoreAPI, makeStore } from './helpers/sqljs';
import { ribasim, workspaceRun } from './helpers/workspace';

async function stored(input: IRunInput) {
  const store = makeStore(new FakeStoreAPI());
  const { run } = await store.addRun(input);
  return { run: await store.getRun(run.id), store };
}

const decode = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

/** What the server would answer for one request (no disk). */
function fakeResult(request: IRestoreRequest): IRestoreResult {
  const project = request.files.find(f => f.name === 'Project.toml');
  const abs = `/srv/${request.target}`;
  return {
    target: request.target,
    target_abs: abs,
    project_path: project ? abs : null,
    project_file: project ? `${abs}/Project.toml` : null,
    julia_version: request.metadata?.julia_version ?? null,
    git_sha: null,
    git_dirty: null,
    entrypoint: request.metadata?.entrypoint ?? null,
    metadata: request.metadata ?? {},
    files: request.files.map(f => ({
      name: f.name,
      path: `${abs}/${f.name}`,
      relpath: `${request.target}/${f.name}`,
      size: decode(f.base64).length,
      sha256: f.sha256,
      verified: true
    }))
  };
}

describe('workspace restore: planning', () => {
  it('lays a member out in its workspace: root files at the target, each project in its folder', async () => {
    const { run } = await stored(workspaceRun());
    const layout = workspaceLayout(run)!;
    expect(layout).toMatchObject({
      root: 'Project.toml',
      member: 'core',
      folders: ['', 'core', 'core/test'],
      manifestFolder: ''
    });
    const where = layout.files.map(f => `${f.folder}|${f.name}`).sort();
    expect(where).toEqual(
      [
        '|Manifest.toml',
        '|Project.toml',
        'core/test|Project.toml',
        'core|Project.toml',
        'core|model.ipynb'
      ].sort()
    );
    expect(flatWorkspace(run)).toBeNull();
  });

  it('builds one request per folder, root first, with the exact bytes; the notebook only with its project', async () => {
    const { run, store } = await stored(workspaceRun());
    const layout = workspaceLayout(run)!;
    const requests = await workspaceRequests(
      run,
      layout,
      'out/iteration_1',
      s => store.getBlob(s)
    );
    expect(requests.map(r => r.request.target)).toEqual([
      'out/iteration_1',
      'out/iteration_1/core',
      'out/iteration_1/core/test'
    ]);
    const [root, core, test] = requests.map(r => r.request);
    expect(root.files.map(f => f.name)).toEqual([
      'Manifest.toml',
      'Project.toml'
    ]);
    expect(decode(root.files[0].base64)).toEqual(ribasim('Manifest.toml'));
    expect(decode(root.files[1].base64)).toEqual(ribasim('Project.toml'));
    expect(core.files.map(f => f.name)).toEqual([
      'Project.toml',
      'model.ipynb'
    ]);
    expect(decode(core.files[0].base64)).toEqual(ribasim('core/Project.toml'));
    expect(decode(test.files[0].base64)).toEqual(
      ribasim('core/test/Project.toml')
    );
    expect(requests.map(r => r.request.metadata?.entrypoint)).toEqual([
      null,
      'model.ipynb',
      null
    ]);
    // the flat request keeps to the project and its manifest (plain names only)
    const flat = await restoreRequest(run, 'x', s => store.getBlob(s));
    expect(flat.files.map(f => f.name).sort()).toEqual([
      'Manifest.toml',
      'Project.toml',
      'model.ipynb'
    ]);
  });

  it('lays out the root itself, when the notebook ran in it', async () => {
    const { run } = await stored(
      workspaceRun({ member: '', notebook: 'ribasim/model.ipynb' })
    );
    const layout = workspaceLayout(run)!;
    expect(layout.member).toBe('');
    expect(layout.folders).toEqual(['', 'core', 'core/test']);
    expect(
      layout.files
        .filter(f => f.folder === '')
        .map(f => f.name)
        .sort()
    ).toEqual(['Manifest.toml', 'Project.toml', 'model.ipynb']);
  });

  it('restores flat, and says why, when the layout cannot be rebuilt', async () => {
    const old = await stored(workspaceRun({ unrecorded: true }));
    expect(workspaceLayout(old.run)).toBeNull();
    expect(flatWorkspace(old.run)).toBe('not-recorded');

    const input = workspaceRun();
    input.capture.files[2].name = '../elsewhere/Project.toml';
    expect(workspaceLayout((await stored(input)).run)).toBeNull();
    expect(flatWorkspace((await stored(input)).run)).toBe('outside');

    const odd = workspaceRun();
    odd.capture.workspace_root = {
      b64: Buffer.from('/h/\xe9/Project.toml', 'latin1').toString('base64')
    };
    expect(workspaceLayout((await stored(odd)).run)).toBeNull();
  });

  it('keeps warning about path entries that lead outside the workspace', async () => {
    const { run } = await stored(workspaceRun());
    const layout = workspaceLayout(run);
    const hint = {
      code: 'path-dependency' as const,
      severity: 'warning' as const,
      message: '',
      packages: ['Ribasim', 'Kora', 'Up'],
      paths: ['core', '../Kora.jl', 'core/../..']
    };
    expect(unresolvedPaths(layout, hint)).toEqual(['Kora', 'Up']);
    expect(unresolvedPaths(null, hint)).toEqual(['Ribasim', 'Kora', 'Up']);
  });
});

describe('workspace restore: pre-flight', () => {
  const codes = (findings: { code: string; severity: string }[]) =>
    findings.map(f => `${f.code}:${f.severity}`);

  async function findings(input: IRunInput) {
    const { run, store } = await stored(input);
    const [kernel] = matchKernelspecs(
      [{ name: 'julia-1.12', display_name: 'Julia 1.12.7', language: 'julia' }],
      run.julia_version
    );
    return preflight(trans, {
      run,
      hints: await runHints(store, run),
      kernel,
      julia_kernels: 1
    });
  }

  it('says the run is restored as a workspace, and path = "core" resolves there', async () => {
    const out = await findings(workspaceRun());
    expect(codes(out)).toEqual([
      'julia-match:ok',
      'workspace:ok',
      'git-clean:ok',
      'notebook:ok'
    ]);
    expect(out[1].message).toContain(
      'Restored as a workspace: root Project.toml and its manifest Manifest.toml in the target folder, the notebook\u2019s project in core/; the other projects of the workspace in core/test/'
    );
  });

  it('warns, as before, when an older run restores a member flat', async () => {
    const out = await findings(workspaceRun({ unrecorded: true }));
    expect(codes(out)).toEqual([
      'julia-match:ok',
      'workspace-flat:warning',
      'path-dependency:warning',
      'git-clean:ok',
      'notebook:ok'
    ]);
    expect(out[2].message).toContain('Ribasim');
  });
});

describe('workspace restore: writing', () => {
  async function plan() {
    const { run, store } = await stored(workspaceRun());
    const layout = workspaceLayout(run)!;
    const requests = await workspaceRequests(run, layout, 'r/ws', s =>
      store.getBlob(s)
    );
    return { layout, requests };
  }

  function writer(
    requests: IFolderRequest[],
    layout: ReturnType<typeof workspaceLayout>,
    existing: Record<string, string[]> = {},
    answer = true
  ) {
    const posted: IRestoreRequest[] = [];
    const asked: string[][] = [];
    const run = () =>
      writeWorkspace({
        requests,
        layout: layout!,
        restore: async r => {
          posted.push(r);
          return fakeResult(r);
        },
        list: async p => existing[p] ?? null,
        confirm: async e => {
          asked.push(e);
          return answer;
        }
      });
    return { run, posted, asked };
  }

  it('writes root first and answers one result: the root as target, the notebook under its member folder', async () => {
    const { layout, requests } = await plan();
    const w = writer(requests, layout);
    const result = (await w.run())!;
    expect(w.asked).toEqual([]);
    expect(w.posted.map(r => [r.target, r.overwrite])).toEqual([
      ['r/ws', undefined],
      ['r/ws/core', undefined],
      ['r/ws/core/test', undefined]
    ]);
    expect(result.target).toBe('r/ws');
    expect(result.entrypoint).toBe('core/model.ipynb');
    expect(result.project_file).toBe('/srv/r/ws/core/Project.toml');
    expect(result.files.map(f => f.name)).toEqual([
      'Manifest.toml',
      'Project.toml',
      'core/Project.toml',
      'core/model.ipynb',
      'core/test/Project.toml'
    ]);
  });

  it('asks once about every existing file; keeping them writes nothing', async () => {
    const { layout, requests } = await plan();
    const existing = {
      'r/ws': ['Manifest.toml', 'notes.txt'],
      'r/ws/core': ['Project.toml', 'model.ipynb']
    };
    const keep = writer(requests, layout, existing, false);
    expect(await keep.run()).toBeNull();
    expect(keep.asked).toEqual([
      ['Manifest.toml', 'core/Project.toml', 'core/model.ipynb']
    ]);
    expect(keep.posted).toEqual([]);

    const replace = writer(requests, layout, existing, true);
    expect(await replace.run()).not.toBeNull();
    expect(replace.posted.map(r => r.overwrite)).toEqual([true, true, true]);
  });

  it('names the folders already written when a later one fails', async () => {
    const { layout, requests } = await plan();
    let n = 0;
    const failing = writeWorkspace({
      requests,
      layout: layout!,
      restore: async r => {
        if (++n === 2) {
          throw new Error('disk full');
        }
        return fakeResult(r);
      },
      list: async () => null,
      confirm: async () => true
    });
    await expect(failing).rejects.toThrow(
      'disk full (the workspace folders . were written already; core and those after it were not)'
    );
  });
});
