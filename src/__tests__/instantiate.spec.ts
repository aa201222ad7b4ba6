/**
 * "Install packages" after a restore (restore/flow.ts `instantiate`): DearDiary never
 * resolves, so Pkg.instantiate() is refused for a project without a manifest, and then
 * nothing but the bridge's own code reaches the kernel. Mocked at the kernel seam: the
 * real KernelBridge over the fake kernel of the bridge tests, which answers
 * `fingerprint` with what a live Julia kernel would.
 */
import { trans } from './helpers/trans';
import { KernelBridge } from '../kernel/bridge';
import { INSTANTIATE_CODE } from '../restore/execute';
import { instantiate, IRestoreDeps } from '../restore/flow';
import { FakeKernel, FakeSessionContext } from './helpers/fakeKernel';

jest.mock('@jupyterlab/apputils', () => ({
  Dialog: { okButton: jest.fn(() => ({})) },
  MainAreaWidget: class {
    constructor(readonly options: { content: unknown }) {}
    title = {};
    id = '';
  },
  Notification: { emit: jest.fn(() => 'note'), update: jest.fn() },
  showDialog: jest.fn(),
  showErrorMessage: jest.fn(async () => undefined)
}));
jest.mock('@jupyterlab/filebrowser', () => ({ FileDialog: {} }));

// After jest.mock: the mocked module.
import { Notification, showErrorMessage } from '@jupyterlab/apputils';
import { LINUX } from './helpers/fixtures';

const SHA = 'ab'.repeat(32);

/** What the kernel code answers to `fingerprint` in a restored project. */
function fingerprint(manifest: 'file' | 'none' | 'not-written') {
  const file = (role: string, name: string) => ({
    role,
    name,
    path: `/srv/restored/${name}`,
    size: 10,
    sha256: SHA
  });
  return {
    julia_version: '1.5.3',
    project: {
      path: '/srv/restored/Project.toml',
      exists: true,
      is_global: false
    },
    manifest:
      manifest === 'none'
        ? null
        : {
            path: '/srv/restored/Manifest.toml',
            exists: manifest === 'file',
            found_by: 'julia'
          },
    workspace_root: null,
    files: [
      file('project', 'Project.toml'),
      ...(manifest === 'file' ? [file('manifest', 'Manifest.toml')] : [])
    ],
    sys: {
      ...LINUX,
      depot_path: ['/d'],
      load_path: ['@'],
      pwd: '/srv/restored'
    }
  };
}

function setup(manifest: 'file' | 'none' | 'not-written', language = 'julia') {
  const kernel = new FakeKernel({
    language,
    ops: { fingerprint: () => fingerprint(manifest) }
  });
  const context = new FakeSessionContext(kernel);
  const bridge = new KernelBridge({
    sessionContext: context as any,
    code: 'INJECTED BRIDGE CODE',
    timeout: 5000
  });
  const panel = {
    id: 'notebook-1',
    context: { path: 'restored/analysis.ipynb' },
    sessionContext: context
  };
  const add = jest.fn();
  const deps = {
    app: { shell: { add } },
    bridges: { get: () => bridge },
    trans
  } as unknown as IRestoreDeps;
  const codes = () => kernel.executes.map(e => e.code as string);
  return { kernel, bridge, panel: panel as any, deps, add, codes };
}

beforeEach(() => jest.clearAllMocks());

describe('Pkg.instantiate after a restore', () => {
  it.each([
    ['no manifest at all', 'none' as const],
    ['a manifest path that was never written', 'not-written' as const]
  ])(
    'refuses a project with %s, and never sends Pkg.instantiate',
    async (_, manifest) => {
      const { kernel, deps, panel, add, codes, bridge } = setup(manifest);
      expect(await instantiate(deps, panel)).toBe(false);
      // It asked the live kernel, and refused on its answer.
      expect(kernel.log).toContain('send:fingerprint');
      expect(showErrorMessage).toHaveBeenCalledTimes(1);
      expect(showErrorMessage).toHaveBeenCalledWith(
        'Packages not installed',
        'The active project /srv/restored/Project.toml has no manifest: Pkg.instantiate() would resolve new versions, which DearDiary never does. Restore a run that has a Manifest.toml.'
      );
      // Only the bridge's own code ran in the kernel: nothing of Pkg.
      expect(codes()).toEqual(['INJECTED BRIDGE CODE']);
      expect(codes().join('\n')).not.toMatch(/instantiate|Pkg|44cfe95a/);
      expect(add).not.toHaveBeenCalled();
      expect(Notification.emit).not.toHaveBeenCalled();
      bridge.dispose();
    }
  );

  it('refuses a kernel that is not Julia, without running anything in it', async () => {
    const { deps, panel, codes, bridge } = setup('file', 'python');
    expect(await instantiate(deps, panel)).toBe(false);
    expect(showErrorMessage).toHaveBeenCalledWith(
      'Packages not installed',
      'restored/analysis.ipynb does not run a Julia kernel.'
    );
    expect(codes()).toEqual([]);
    bridge.dispose();
  });

  it('runs INSTANTIATE_CODE, once and silently, when the project has its manifest', async () => {
    const { kernel, deps, panel, add, codes, bridge } = setup('file');
    expect(await instantiate(deps, panel)).toBe(true);
    expect(showErrorMessage).not.toHaveBeenCalled();
    expect(codes()).toEqual(['INJECTED BRIDGE CODE', INSTANTIATE_CODE]);
    expect(kernel.executes[1]).toMatchObject({
      code: INSTANTIATE_CODE,
      silent: true,
      store_history: false,
      allow_stdin: false
    });
    // Pkg.instantiate, never resolve or update.
    expect(INSTANTIATE_CODE).toMatch(/\)\.instantiate\)$/);
    expect(INSTANTIATE_CODE).not.toMatch(/resolve|update|add/);
    // Its log opened beside the notebook, and the notification ends in success.
    expect(add).toHaveBeenCalledWith(expect.anything(), 'main', {
      ref: 'notebook-1',
      mode: 'split-bottom'
    });
    const updates = (Notification.update as jest.Mock).mock.calls.map(
      ([u]) => u.type
    );
    expect(updates[updates.length - 1]).toBe('success');
    bridge.dispose();
  });
});
