/**
 * The kernel fingerprints and listed runs the unit tests build on: each test says only
 * what it changes.
 */
import { ICapture, ICapturedFile } from '../../kernel/protocol';
import { IRecorderDeps } from '../../recorder/recorder';
import { IRunInput, IRunSummary } from '../../store/types';

/** The system facts of a Linux kernel. */
export const LINUX: ICapture['sys'] = {
  kernel: 'Linux',
  arch: 'x86_64',
  machine: 'x86_64-linux-gnu',
  cpu_threads: 2,
  nthreads: 1,
  bindir: '/usr/bin',
  depot_path: [],
  load_path: [],
  pwd: '/'
};

/** A captured file: the bytes `abc` unless `extra` says otherwise. */
export function capturedFile(
  role: ICapturedFile['role'],
  path: string,
  sha256: string,
  extra: Partial<ICapturedFile> = {}
): ICapturedFile {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return { role, name, path, size: 3, sha256, base64: 'YWJj', ...extra };
}

export interface IFingerprintOptions {
  /** The active project's folder (default /work/p; also the kernel's pwd). */
  dir?: string;
  julia?: string;
  /** Project.toml's sha256 (default 'a'×64); null: no project file captured. */
  project?: string | null;
  /** Manifest.toml's sha256 (default 'b'×64). */
  manifest?: string;
}

/**
 * A kernel's fingerprint on Linux: Julia 1.5.3 unless told, the active project in
 * `dir` with its Project.toml and Manifest.toml; `extra` replaces any field.
 */
export function fingerprint(
  options: IFingerprintOptions = {},
  extra: Partial<ICapture> = {}
): ICapture {
  const dir = options.dir ?? '/work/p';
  const project =
    options.project === undefined ? 'a'.repeat(64) : options.project;
  const files = [
    capturedFile(
      'manifest',
      `${dir}/Manifest.toml`,
      options.manifest ?? 'b'.repeat(64)
    )
  ];
  if (project !== null) {
    files.unshift(capturedFile('project', `${dir}/Project.toml`, project));
  }
  return {
    julia_version: options.julia ?? '1.5.3',
    project: { path: `${dir}/Project.toml`, exists: true, is_global: false },
    manifest: { path: `${dir}/Manifest.toml`, exists: true, found_by: 'julia' },
    workspace_root: null,
    files,
    sys: { ...LINUX, pwd: dir },
    ...extra
  };
}

/** A run as the store lists it (run `id`, recorded on 2026-11-2<id>); `over` replaces any field. */
export function runSummary(
  id: number,
  over: Partial<IRunSummary> = {}
): IRunSummary {
  return {
    id,
    snapshot_id: `s${id}`,
    number: id,
    notebook_path: 'a/analysis.ipynb',
    trigger: 'button',
    status: 'recorded',
    note: '',
    created_at: `2026-11-2${id}T10:00:00Z`,
    julia_version: '1.5.3',
    git_sha: null,
    git_dirty: null,
    is_global_env: false,
    has_manifest: true,
    parent_id: null,
    manifest_sha256: null,
    project_sha256: null,
    manifest_name: 'Manifest.toml',
    project_path: 'a/Project.toml',
    notebook_unsaved: false,
    has_patch: false,
    patch_truncated: false,
    ...over
  };
}

/**
 * A Recorder's dependencies that keep the runs it adds (`runs`): the notebook in a git
 * repository, its saved file `{}`; `overrides` replaces any of them.
 */
export function recorderDeps(overrides: Partial<IRecorderDeps> = {}): {
  deps: IRecorderDeps;
  runs: IRunInput[];
} {
  const runs: IRunInput[] = [];
  const deps: IRecorderDeps = {
    git: async () => ({
      path: 'nb.ipynb',
      repo: true,
      head_sha: 'f'.repeat(40),
      dirty: false
    }),
    readFile: async () => new Uint8Array([123, 125]),
    addRun: async input => {
      runs.push(input);
      return {
        created: true,
        run: runSummary(runs.length, {
          snapshot_id: input.snapshot_id,
          created_at: input.created_at
        })
      };
    },
    options: () => ({ keepNotebook: true, patchMaxBytes: 1000 }),
    ...overrides
  };
  return { deps, runs };
}
