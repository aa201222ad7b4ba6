/**
 * What the kernel loaded from outside its active project: the protocol fields, the
 * grouping by environment, the details listing, the pre-flight warning, the store, and
 * the carried environment files of a restore.
 */
import { trans } from './helpers/trans';
import { ICapture, validateCapture } from '../kernel/protocol';
import {
  environmentTarget,
  outsideEnvironments,
  outsideEnvironmentsOf,
  userPackages
} from '../manifest/loaded';
import { carriable, environmentRequest } from '../restore/carry';
import { preflight, restoreRequest } from '../restore/plan';
import { PreflightBody } from '../restore/views';
import { IRunInput } from '../store/types';
import { RunDetails } from '../widgets/details';
import { outsideSection } from '../widgets/loaded';
import { FakeStoreAPI, makeRun, makeStore, sha } from './helpers/sqljs';

const GLOBAL = '/home/u/.julia/environments/v1.10';
const TOOLS = '/home/u/tools';
const STDLIB = '/opt/julia-1.10.4/share/julia/stdlib/v1.10';
const GLOBAL_MANIFEST = [
  'julia_version = "1.10.4"',
  'manifest_format = "2.0"',
  '[[deps.IJulia]]',
  'deps = ["JSON", "ZMQ"]',
  'git-tree-sha1 = "0000000000000000000000000000000000000001"',
  'uuid = "7073ff75-c697-5162-941a-fcdaad2a7d2a"',
  'version = "1.24.2"',
  '[[deps.JSON]]',
  'git-tree-sha1 = "0000000000000000000000000000000000000002"',
  'uuid = "682c06a0-de6a-54ab-a142-c8b1cf79cde6"',
  'version = "0.21.4"',
  '[[deps.ZMQ]]',
  'git-tree-sha1 = "0000000000000000000000000000000000000003"',
  'uuid = "c2297ded-f4af-51ae-bb23-16f91089e4e1"',
  'version = "1.2.2"',
  '[[deps.Revise]]',
  'git-tree-sha1 = "0000000000000000000000000000000000000004"',
  'uuid = "295af30f-e4ad-537b-8983-00126c2a3abe"',
  'version = "3.5.14"',
  '[[deps.Plots]]',
  'git-tree-sha1 = "0000000000000000000000000000000000000005"',
  'uuid = "91a5bcdd-55d7-5caf-9e0b-520d859cae80"',
  'version = "1.40.4"',
  ''
].join('\n');
const GLOBAL_PROJECT =
  '[deps]\nIJulia = "7073ff75-c697-5162-941a-fcdaad2a7d2a"\nPlots = "91a5bcdd-55d7-5caf-9e0b-520d859cae80"\nRevise = "295af30f-e4ad-537b-8983-00126c2a3abe"\n';
const TOOLS_PROJECT =
  '[deps]\nBenchmarkTools = "6e4b80f9-dd63-53aa-95a3-0cdb28fa8baf"\n';
const TOOLS_MANIFEST = '# tools\n';

function envFile(
  role: 'env_project' | 'env_manifest',
  dir: string,
  name: string,
  text: string,
  env: number
) {
  const bytes = Buffer.from(text);
  return {
    role,
    name,
    path: `${dir}/${name}`,
    size: bytes.length,
    sha256: sha(bytes),
    base64: bytes.toString('base64'),
    env
  };
}

/** A run whose kernel loaded Revise, Plots (and IJulia's own) from the global env. */
function runWithOutside(): IRunInput {
  const run = makeRun();
  const capture = run.capture;
  capture.environments = [
    env('/home/u/demo/Project.toml', { active: true }),
    env(`${GLOBAL}/Project.toml`, {
      is_global: true,
      carried: true,
      manifest: `${GLOBAL}/Manifest.toml`
    }),
    env(STDLIB, { stdlib: true, project: null }),
    env(`${TOOLS}/Project.toml`, {
      carried: true,
      manifest: `${TOOLS}/Manifest.toml`
    })
  ];
  capture.loaded = [
    pkg('BenchmarkTools', '1.5.0', 3),
    pkg('Example', '0.5.3', 0),
    pkg('IJulia', '1.24.2', 1),
    pkg('JSON', '0.21.4', 1),
    pkg('LinearAlgebra', null, 2, true),
    pkg('Plots', '1.40.4', 1),
    pkg('Revise', '3.5.14', 1),
    pkg('ZMQ', '1.2.2', 1),
    pkg('Lost', null, null)
  ];
  capture.files.push(
    envFile('env_project', GLOBAL, 'Project.toml', GLOBAL_PROJECT, 1),
    envFile('env_manifest', GLOBAL, 'Manifest.toml', GLOBAL_MANIFEST, 1),
    envFile('env_project', TOOLS, 'Project.toml', TOOLS_PROJECT, 3),
    envFile('env_manifest', TOOLS, 'Manifest.toml', TOOLS_MANIFEST, 3)
  );
  capture.sys.load_path = capture.environments.map(e => e.path);
  return run;
}

function env(
  path: string,
  o: Partial<NonNullable<ICapture['environments']>[number]> = {}
): NonNullable<ICapture['environments']>[number] {
  return {
    path,
    project: path.endsWith('.toml') ? path : null,
    manifest: null,
    active: false,
    is_global: false,
    stdlib: false,
    carried: false,
    ...o
  };
}

function pkg(
  name: string,
  version: string | null,
  envIndex: number | null,
  stdlib = false
) {
  return {
    name,
    uuid: `00000000-0000-0000-0000-${String(name.length).padStart(12, '0')}`,
    version,
    env: envIndex,
    stdlib
  };
}

async function stored(input: IRunInput) {
  const store = makeStore(new FakeStoreAPI());
  const { run } = await store.addRun(input);
  return { run: await store.getRun(run.id), store };
}

describe('protocol: loaded packages', () => {
  it('validates loaded, environments and the files of stacked environments', async () => {
    const input = runWithOutside().capture;
    const checked = await validateCapture(
      JSON.parse(JSON.stringify(input)),
      true
    );
    expect(checked.loaded).toEqual(input.loaded);
    expect(checked.environments).toEqual(input.environments);
    expect(checked.files.map(f => [f.role, f.env])).toEqual([
      ['project', undefined],
      ['manifest', undefined],
      ['env_project', 1],
      ['env_manifest', 1],
      ['env_project', 3],
      ['env_manifest', 3]
    ]);
  });

  it('reads captures of older kernels without them, and rejects a dangling index', async () => {
    const old = makeRun().capture;
    const checked = await validateCapture(
      JSON.parse(JSON.stringify(old)),
      true
    );
    expect(checked.loaded).toBeUndefined();
    expect(checked.environments).toBeUndefined();
    expect(outsideEnvironments(checked)).toEqual([]);
    const bad = JSON.parse(JSON.stringify(runWithOutside().capture));
    bad.loaded[0].env = 9;
    await expect(validateCapture(bad, true)).rejects.toThrow(
      'loaded[0].env is not an index of environments'
    );
    const noEnv = JSON.parse(JSON.stringify(runWithOutside().capture));
    delete noEnv.files[2].env;
    await expect(validateCapture(noEnv, true)).rejects.toThrow(
      'files[2].env is not an integer'
    );
  });
});

describe('outside environments', () => {
  it('groups non-stdlib packages by the stacked environment they came from', () => {
    const envs = outsideEnvironments(runWithOutside().capture);
    expect(envs.map(e => [e.index, e.path, e.folder])).toEqual([
      [1, GLOBAL, 'v1.10'],
      [3, TOOLS, 'tools']
    ]);
    expect(envs[0].packages.map(p => p.name)).toEqual([
      'IJulia',
      'JSON',
      'Plots',
      'Revise',
      'ZMQ'
    ]);
    // without its manifest only IJulia itself is known to be the kernel's
    expect(envs[0].kernel_packages).toEqual(['IJulia']);
    expect(envs[0].files.map(f => f.name)).toEqual([
      'Project.toml',
      'Manifest.toml'
    ]);
    expect(environmentTarget('a/iteration_3/', envs[0])).toBe(
      'a/iteration_3/environments/v1.10'
    );
    expect(environmentTarget('', envs[1])).toBe('environments/tools');
  });

  it('tells the kernel\u2019s own packages (IJulia and its deps) apart with the carried manifest', async () => {
    const { run, store } = await stored(runWithOutside());
    const envs = await outsideEnvironmentsOf(run.capture, s =>
      store.getText(s)
    );
    expect(envs[0].kernel_packages).toEqual(['IJulia', 'JSON', 'ZMQ']);
    expect(userPackages(envs[0]).map(p => p.name)).toEqual(['Plots', 'Revise']);
    expect(userPackages(envs[1]).map(p => p.name)).toEqual(['BenchmarkTools']);
  });

  it('names environment folders plainly and uniquely', () => {
    const run = runWithOutside();
    run.capture.environments![3] = env('/x/.hidden env/Project.toml');
    run.capture.environments!.push(env('/y/.hidden env/JuliaProject.toml'));
    run.capture.loaded!.push(pkg('Other', '1.0.0', 4));
    expect(outsideEnvironments(run.capture).map(e => e.folder)).toEqual([
      'v1.10',
      'hidden_env',
      'hidden_env-2'
    ]);
  });
});

describe('store: files of stacked environments', () => {
  it('keeps them out of the run\u2019s own files, in the capture, and their bytes', async () => {
    const { run, store } = await stored(runWithOutside());
    expect(run.files.map(f => f.role)).toEqual(['project', 'manifest']);
    const envFiles = run.capture.files.filter(f => f.env !== undefined);
    expect(envFiles).toHaveLength(4);
    expect(envFiles.every(f => f.base64 === undefined)).toBe(true);
    expect(await store.getText(envFiles[1].sha256)).toBe(GLOBAL_MANIFEST);
    expect(run.has_manifest).toBe(true);
    // the restore of the project itself writes only its own files
    const request = await restoreRequest(run, 't', s => store.getBlob(s));
    expect(request.files.map(f => f.name)).toEqual([
      'Project.toml',
      'Manifest.toml',
      'analysis.ipynb'
    ]);
    // deleting the run frees their blobs too
    await store.deleteRun(run.id);
    expect(await store.getBlob(envFiles[1].sha256)).toBeNull();
  });
});

describe('details: loaded from outside the active project', () => {
  it('lists name, version and environment of each package', async () => {
    const { run } = await stored(runWithOutside());
    const section = outsideSection(trans, run)!;
    expect(section.querySelector('h4')?.textContent).toBe(
      'Loaded from outside the active project'
    );
    const rows = [...section.querySelectorAll('tbody tr')].map(tr =>
      [...tr.querySelectorAll('td')].map(td => td.textContent)
    );
    expect(rows).toContainEqual(['Revise', '3.5.14', `global (${GLOBAL})`]);
    expect(rows).toContainEqual([
      'IJulia (the kernel\u2019s)',
      '1.24.2',
      `global (${GLOBAL})`
    ]);
    expect(rows).toContainEqual(['BenchmarkTools', '1.5.0', TOOLS]);
    expect(rows.flat()).not.toContain('LinearAlgebra'); // a stdlib
    expect(rows.flat()).not.toContain('Example'); // the active project's
    expect(rows.flat()).not.toContain('Lost'); // in no environment now
    expect(section.textContent).toContain(
      'Its Project.toml, Manifest.toml were recorded with the run'
    );
  });

  it('is part of the run details, and absent for runs without loaded packages', async () => {
    const actions = {
      copySnippet: jest.fn(),
      saveNote: jest.fn(),
      deleteRun: jest.fn(),
      viewFile: jest.fn(),
      restore: jest.fn()
    };
    const view = new RunDetails(trans, actions);
    const { run } = await stored(runWithOutside());
    view.render(run, []);
    expect(view.node.querySelector('.jp-DearDiary-outside')).not.toBeNull();
    const { run: plain } = await stored(makeRun());
    view.render(plain, []);
    expect(view.node.querySelector('.jp-DearDiary-outside')).toBeNull();
    expect(outsideSection(trans, plain)).toBeNull();
  });
});

describe('pre-flight: loaded from outside', () => {
  it('warns by name, and mentions the kernel\u2019s own packages only', async () => {
    const { run, store } = await stored(runWithOutside());
    const outside = await outsideEnvironmentsOf(run.capture, s =>
      store.getText(s)
    );
    const findings = preflight(trans, {
      run,
      hints: [],
      kernel: null,
      julia_kernels: 1,
      outside
    });
    const loaded = findings.filter(f => f.code === 'loaded-outside');
    expect(loaded.map(f => f.severity)).toEqual(['warning', 'warning']);
    expect(loaded[0].message).toContain(
      'Plots, Revise were loaded from the global environment; the restored project does not contain them.'
    );
    expect(loaded[0].message).toContain('environments/v1.10/');
    expect(loaded[1].message).toContain(
      `BenchmarkTools was loaded from the environment ${TOOLS}; the restored project does not contain it.`
    );
    // only kernel packages: an info, nothing to carry
    const kernelOnly = outside.map(e => ({
      ...e,
      kernel_packages: e.packages.map(p => p.name)
    }));
    const info = preflight(trans, {
      run,
      hints: [],
      kernel: null,
      julia_kernels: 1,
      outside: kernelOnly
    }).filter(f => f.code === 'kernel-outside');
    expect(info[0].severity).toBe('info');
    expect(info[0].message).toContain('IJulia, JSON, Plots, Revise, ZMQ');
  });

  it('says why an environment cannot be carried', async () => {
    const input = runWithOutside();
    input.capture.files = input.capture.files.filter(f => f.env !== 3);
    input.capture.environments![3] = {
      ...input.capture.environments![3],
      carried: false,
      error: {
        code: 'file_too_large',
        message: 'The project file /home/u/tools/Manifest.toml is too large'
      }
    };
    const { run } = await stored(input);
    const outside = outsideEnvironments(run.capture);
    expect(carriable(outside).map(e => e.folder)).toEqual(['v1.10']);
    const [, tools] = preflight(trans, {
      run,
      hints: [],
      kernel: null,
      julia_kernels: 1,
      outside
    }).filter(f => f.code === 'loaded-outside');
    expect(tools.message).toContain(
      'Its files were not recorded: The project file /home/u/tools/Manifest.toml is too large'
    );
  });

  it('offers to carry them along with a checkbox', () => {
    const body = new PreflightBody({
      trans,
      findings: () => [],
      matches: [],
      choice: { target: 't', kernel: null, instantiate: false, carry: true },
      canReopen: false,
      canInstantiate: true,
      carryLabel: 'Carry along the environments they were loaded from'
    });
    const box = body.node.querySelector(
      'input.jp-DearDiary-carry'
    ) as HTMLInputElement;
    expect(box.checked).toBe(true);
    expect(body.getValue().carry).toBe(true);
    box.checked = false;
    expect(body.getValue().carry).toBe(false);
    const none = new PreflightBody({
      trans,
      findings: () => [],
      matches: [],
      choice: { target: 't', kernel: null, instantiate: false },
      canReopen: false,
      canInstantiate: true
    });
    expect(none.node.querySelector('input.jp-DearDiary-carry')).toBeNull();
    expect(none.getValue().carry).toBeUndefined();
  });
});

describe('restore: carried environment files', () => {
  it('writes the exact bytes under their names into environments/<name>/', async () => {
    const { run, store } = await stored(runWithOutside());
    const [global, tools] = outsideEnvironments(run.capture);
    const request = (await environmentRequest(global, 'a/iteration_1', s =>
      store.getBlob(s)
    ))!;
    expect(request.target).toBe('a/iteration_1/environments/v1.10');
    expect(request.files.map(f => f.name)).toEqual([
      'Project.toml',
      'Manifest.toml'
    ]);
    expect(Buffer.from(request.files[1].base64, 'base64').toString()).toBe(
      GLOBAL_MANIFEST
    );
    for (const f of request.files) {
      expect(sha(Buffer.from(f.base64, 'base64'))).toBe(f.sha256);
    }
    expect(
      (await environmentRequest(tools, 'x', s => store.getBlob(s)))!.target
    ).toBe('x/environments/tools');
    await expect(
      environmentRequest(global, 'x', async () => null)
    ).rejects.toThrow('Project.toml: its bytes are not in the store');
    expect(
      await environmentRequest({ ...global, files: [] }, 'x', async () => null)
    ).toBeNull();
  });
});
