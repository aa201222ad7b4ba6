import { Clipboard, Notification } from '@jupyterlab/apputils';
import { trans } from './helpers/trans';
import { runHints } from '../manifest/hints';
import {
  bestKernelspec,
  ISpecLike,
  matchKernelspecs,
  minorOf
} from '../restore/kernelspec';
import {
  defaultTarget,
  folderOf,
  notebookName,
  preflight,
  restoreRequest,
  runName
} from '../restore/plan';
import { activateCode } from '../restore/execute';
import { resultBody, stripAnsi, worktreeBody } from '../restore/views';
import { IRestoreResult } from '../server/api';
import { IRunDetail } from '../store/types';
import {
  FakeStoreAPI,
  IRunOptions,
  makeRun,
  makeStore,
  sha
} from './helpers/sqljs';
import { toBase64 } from '../bytes';

jest.mock('@jupyterlab/apputils', () => ({
  Clipboard: { copyToSystem: jest.fn() },
  Notification: { info: jest.fn() }
}));

const spec = (name: string, display_name: string, language = 'julia') => ({
  name,
  display_name,
  language
});

describe('kernelspec matching', () => {
  const names = (specs: ISpecLike[], version: string) =>
    matchKernelspecs(specs, version).map(m => `${m.spec.name}:${m.fit}`);

  it('matches IJulia names julia-X.Y, custom names and the debug suffix', () => {
    const specs = [
      spec('julia-1.9', 'Julia 1.9.3'),
      spec('julia-1.10-debug', 'Julia 1.10.4-debug'),
      spec('julia-4-threads-1.10', 'Julia 4 threads 1.10.4'),
      spec('julia-1.10', 'Julia 1.10.4'),
      spec('python3', 'Python 3 (ipykernel)', 'python')
    ];
    expect(names(specs, '1.10.4')).toEqual([
      'julia-1.10:exact',
      'julia-4-threads-1.10:exact',
      'julia-1.10-debug:exact',
      'julia-1.9:other'
    ]);
    const best = bestKernelspec(matchKernelspecs(specs, '1.10.4'));
    expect(best?.spec.name).toBe('julia-1.10');
    expect(best?.version).toBe('1.10.4');
    expect(matchKernelspecs(specs, '1.10.4')[2].debug).toBe(true);
  });

  it('tells a different patch release from the old display names', () => {
    const m = matchKernelspecs([spec('julia-1.10', 'Julia 1.10.2')], '1.10.4');
    expect(m[0].fit).toBe('patch');
    expect(m[0].version).toBe('1.10.2');
    expect(bestKernelspec(m)?.spec.name).toBe('julia-1.10');
  });

  it('reads the new display names (major.minor only) as an exact fit', () => {
    const m = matchKernelspecs([spec('julia-1.11', 'Julia 1.11')], '1.11.7');
    expect(m[0]).toMatchObject({ fit: 'exact', version: '1.11' });
  });

  it('falls back to the display name when the name tells nothing', () => {
    const specs = [
      spec('myjulia', 'Julia 1.10.4 (cluster)'),
      spec('other', 'Julia O3 1.9.0'),
      spec('bare', 'Julia')
    ];
    expect(names(specs, '1.10.4')).toEqual([
      'myjulia:minor',
      'other:other',
      'bare:unknown'
    ]);
    expect(bestKernelspec(matchKernelspecs(specs, '1.10.4'))?.spec.name).toBe(
      'myjulia'
    );
  });

  it('finds the test kernel by its name despite a suffixed display name', () => {
    const m = matchKernelspecs(
      [spec('deardiary-test-julia-1.5', 'Julia 1.5.3 (deardiary test)')],
      '1.5.3'
    );
    expect(m[0]).toMatchObject({ fit: 'exact', version: '1.5.3' });
  });

  it('has no best kernelspec without a same-minor one, or without Julia kernels', () => {
    expect(
      bestKernelspec(
        matchKernelspecs([spec('julia-1.9', 'Julia 1.9.3')], '1.10.4')
      )
    ).toBeNull();
    expect(matchKernelspecs([spec('ir', 'R', 'R')], '1.10.4')).toEqual([]);
    expect(bestKernelspec([])).toBeNull();
    expect(minorOf('1.10.4-rc1')).toBe('1.10');
    expect(minorOf('nightly')).toBeNull();
  });
});

async function storedRun(options: IRunOptions = {}): Promise<{
  run: IRunDetail;
  store: ReturnType<typeof makeStore>;
}> {
  const store = makeStore(new FakeStoreAPI());
  const { run } = await store.addRun(makeRun(options));
  return { run: await store.getRun(run.id), store };
}

describe('pre-flight', () => {
  const codes = (findings: { code: string; severity: string }[]) =>
    findings.map(f => `${f.code}:${f.severity}`);

  /** The findings for a stored run and one installed kernelspec. */
  async function findingsOf(options: IRunOptions, installed: ISpecLike) {
    const { run, store } = await storedRun(options);
    const [kernel] = matchKernelspecs([installed], run.julia_version);
    return preflight(trans, {
      run,
      hints: await runHints(store, run),
      kernel,
      julia_kernels: 1
    });
  }

  interface IPreflightCase {
    name: string;
    stored: IRunOptions;
    installed: ISpecLike;
    expected: string[];
    /** [index of a finding, a part of its message] */
    messages: Array<[number, string]>;
  }

  it.each<IPreflightCase>([
    {
      name: 'states the kernel fit, the git state and the notebook',
      stored: { notebook: 'work/analysis.ipynb' },
      installed: spec('julia-1.10', 'Julia 1.10.4'),
      expected: ['julia-match:ok', 'git-clean:ok', 'notebook:ok'],
      messages: [
        [1, 'a94a8fe5cc (main)'],
        [2, 'analysis.ipynb']
      ]
    },
    {
      name: 'warns about another Julia, path entries, a truncated patch, no notebook',
      stored: {
        manifest: [
          'julia_version = "1.10.4"',
          'manifest_format = "2.0"',
          '[[deps.Local]]',
          'path = "../Local"',
          'uuid = "11111111-1111-1111-1111-111111111111"',
          ''
        ].join('\n'),
        patch: 'diff --git a/x b/x\n',
        truncated: true,
        notebookBytes: null
      },
      installed: spec('julia-1.9', 'Julia 1.9.3'),
      expected: [
        'julia-differs:warning',
        'path-dependency:warning',
        'dirty-uncaptured:warning',
        'git-dirty:warning',
        'no-notebook:warning'
      ],
      messages: [
        [1, 'Local'],
        [0, '1.10']
      ]
    }
  ])('$name', async ({ stored, installed, expected, messages }) => {
    const findings = await findingsOf(stored, installed);
    expect(codes(findings)).toEqual(expected);
    for (const [index, part] of messages) {
      expect(findings[index].message).toContain(part);
    }
  });

  it('says the notebook cannot be reopened without any Julia kernel', async () => {
    const { run } = await storedRun({ patch: 'diff --git a/x b/x\n' });
    const findings = preflight(trans, {
      run,
      hints: [],
      kernel: null,
      julia_kernels: 0
    });
    expect(codes(findings)).toEqual([
      'no-kernel:error',
      'git-dirty:info',
      'notebook:ok'
    ]);
    expect(
      preflight(trans, { run, hints: [], kernel: null, julia_kernels: 2 })[0]
        .severity
    ).toBe('warning');
  });
});

describe('restore request', () => {
  it('carries every file and the notebook with their exact bytes', async () => {
    const nb = new Uint8Array([0x7b, 0x0d, 0x0a, 0xff, 0x00, 0x7d]);
    const { run, store } = await storedRun({
      notebook: 'a/b/run.ipynb',
      notebookBytes: nb,
      manifestName: 'Manifest-v1.11.toml'
    });
    const request = await restoreRequest(run, 'a/b/iteration_1', s =>
      store.getBlob(s)
    );
    expect(request.target).toBe('a/b/iteration_1');
    expect(request.files.map(f => f.name)).toEqual([
      'Project.toml',
      'Manifest-v1.11.toml',
      'run.ipynb'
    ]);
    const notebook = request.files[2];
    expect(Buffer.from(notebook.base64, 'base64')).toEqual(Buffer.from(nb));
    expect(notebook.sha256).toBe(sha(nb));
    for (const f of request.files) {
      expect(sha(Buffer.from(f.base64, 'base64'))).toBe(f.sha256);
    }
    expect(request.metadata).toMatchObject({
      julia_version: '1.10.4',
      git_sha: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3',
      entrypoint: 'run.ipynb'
    });
  });

  it('refuses when a blob is missing, and leaves the notebook out when not stored', async () => {
    const { run, store } = await storedRun({ notebookBytes: null });
    const request = await restoreRequest(run, 't', s => store.getBlob(s));
    expect(request.files.map(f => f.name)).toEqual([
      'Project.toml',
      'Manifest.toml'
    ]);
    expect(request.metadata?.entrypoint).toBeNull();
    await expect(restoreRequest(run, 't', async () => null)).rejects.toThrow(
      'Project.toml: its bytes are not in the store'
    );
  });

  it('names both numbers wherever the folder name (the store id) appears', () => {
    // The notebook's run #2 is the store's iteration 3: the label names both, the
    // folder the id, so the user finds the folder from the sidebar and back.
    const run = { id: 3, number: 2 };
    expect(runName(trans, run)).toBe('run #2 (iteration 3)');
    expect(defaultTarget('nb', run)).toBe('nb/iteration_3');
    expect(defaultTarget('nb', run)).toContain(`iteration_${run.id}`);
    expect(runName(trans, run)).toContain(`iteration ${run.id}`);
  });

  it('names the default folder like DearDiary, beside the notebook', () => {
    expect(defaultTarget('', { id: 7 })).toBe('iteration_7');
    expect(defaultTarget('/a/b/', { id: 7 })).toBe('a/b/iteration_7');
    expect(folderOf('a/b/n.ipynb')).toBe('a/b');
    expect(folderOf('n.ipynb')).toBe('');
    expect(notebookName({ notebook_path: 'x/y.ipynb' } as IRunDetail)).toBe(
      'y.ipynb'
    );
  });

  it('encodes base64 exactly, also past the chunk size', () => {
    const big = new Uint8Array(0x8000 * 2 + 3).map((_, i) => (i * 7) & 0xff);
    expect(toBase64(big)).toBe(Buffer.from(big).toString('base64'));
    expect(toBase64(new Uint8Array())).toBe('');
  });
});

describe('views', () => {
  const result: IRestoreResult = {
    target: 'work/iteration_3',
    target_abs: '/srv/root/work/iteration_3',
    project_path: '/srv/root/work/iteration_3',
    project_file: '/srv/root/work/iteration_3/Project.toml',
    julia_version: '1.10.4',
    git_sha: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3',
    git_dirty: true,
    entrypoint: 'analysis.ipynb',
    metadata: {},
    files: [
      {
        name: 'Project.toml',
        path: '/srv/root/work/iteration_3/Project.toml',
        relpath: 'work/iteration_3/Project.toml',
        size: 14,
        sha256: 'c'.repeat(64),
        verified: true
      }
    ]
  };

  it('renders a RestoreResult with every field and file hash (short, whole on hover)', async () => {
    const body = resultBody(trans, result, 'en').node;
    const text = body.textContent ?? '';
    for (const part of [
      'work/iteration_3',
      '/srv/root/work/iteration_3',
      '1.10.4',
      'a94a8fe5ccb1 (dirty)',
      'analysis.ipynb',
      'Project.toml',
      '14 bytes',
      'c'.repeat(12),
      '\u2714\u00a0verified'
    ]) {
      expect(text).toContain(part);
    }
    expect(text).not.toContain('c'.repeat(13));
    const hash = body.querySelector<HTMLElement>(
      '.jp-DearDiary-restoredFiles .jp-DearDiary-hash'
    )!;
    expect(hash.title).toBe('c'.repeat(64));
    hash.click();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(Clipboard.copyToSystem).toHaveBeenCalledWith('c'.repeat(64));
    expect(Notification.info).toHaveBeenCalledWith(
      `Copied sha256 Project.toml: ${'c'.repeat(64)}`,
      { autoClose: 3000 }
    );
    const unverified = resultBody(trans, {
      ...result,
      files: [{ ...result.files[0], verified: false }],
      entrypoint: null
    }).node.textContent;
    expect(unverified).toContain('NOT verified');
    expect(unverified).toContain('not restored');
  });

  it('renders the worktree result with conflicts and binary files', () => {
    const text =
      worktreeBody(trans, {
        target: 'wt',
        target_abs: '/srv/wt',
        toplevel: '',
        sha: 'a'.repeat(40),
        patch_applied: false,
        patch_reason: 'conflicts',
        applied_files: [],
        conflicts: [{ path: 'src/x.jl', message: 'patch does not apply' }],
        skipped_binary: ['img.png'],
        lfs_pointers: ['data/big.bin']
      }).node.textContent ?? '';
    expect(text).toContain('conflicts below');
    expect(text).toContain('src/x.jl: patch does not apply');
    expect(text).toContain('img.png: binary change');
    expect(text).toContain('data/big.bin: a git-lfs pointer');
  });

  it('strips terminal colours from Pkg output', () => {
    expect(
      stripAnsi('\u001b[32m\u001b[1m  Updating\u001b[22m\u001b[39m x')
    ).toBe('  Updating x');
  });

  it('quotes any path as a Julia string literal', () => {
    expect(activateCode('/a/"b"/$x\\y\n')).toContain(
      '"/a/\\"b\\"/\\$x\\\\y\\x0a"'
    );
  });
});
