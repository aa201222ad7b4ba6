/**
 * The contract of the run store: what the recorder hands it and what the sidebar reads.
 * Shaped after DearDiary.jl: project -> experiment (one per notebook path) -> iteration
 * (one per run), plus what DearDiary lacks (captured files as content-addressed blobs,
 * git details, the notebook bytes, kernel and system facts).
 */
import { IKernelspecRecord } from '../kernel/kernelspec';
import { ICapture } from '../kernel/protocol';

/** One changed path of `git status`. */
export interface IDirtyFile {
  path: string;
  /** One letter: M, A, D, R, C, U, T or ?? for untracked. */
  status: string;
  /** The two-letter porcelain code (index, worktree). */
  xy: string;
  /** The former path of a rename or copy. */
  orig_path: string | null;
  submodule: boolean;
}

/** The git state of a notebook's repository: GET /deardiary/git?path= answers it. */
export interface IGitState {
  path: string;
  repo: boolean;
  head_sha?: string;
  branch?: string | null;
  detached?: boolean;
  remote_name?: string | null;
  remote_url?: string | null;
  dirty?: boolean;
  dirty_files?: IDirtyFile[];
  /** The list stops at 1000 entries. */
  dirty_files_truncated?: boolean;
  untracked_count?: number;
  patch?: string;
  patch_bytes?: number;
  truncated?: boolean;
  binary_files?: string[];
  /** Relative to the server root ('' for the root itself), null when outside it. */
  toplevel?: string | null;
  toplevel_outside_root?: boolean;
}

/** What made a run. */
export type RunTrigger =
  'button' | 'kernel-start' | 'environment-change' | 'code';

/** The git part of a run: the endpoint's answer, or why there is none. */
export type RunGit =
  | { state: 'ok'; git: IGitState } // git.repo false: "no repository"
  | { state: 'unknown'; error_code: string; message: string };

/**
 * Where a run's notebook bytes come from: 'editor', the notebook's model at snapshot time
 * as a save would write it (what the outputs came from); 'file', the saved file (runs
 * recorded before issue 16).
 */
export type NotebookOrigin = 'editor' | 'file';

/** The notebook as it was when the run was recorded. */
export interface IRunNotebook {
  path: string;
  /** The notebook's bytes (see `origin`), or null when the setting says not to keep them. */
  bytes: Uint8Array | null;
  sha256: string;
  size: number;
  /** The user had unsaved edits (the saved file, when kept, is `saved`). */
  unsaved_changes: boolean;
  /** Absent: 'file' (runs recorded before the editor's content was captured). */
  origin?: NotebookOrigin;
  /** The saved file when its bytes differ from the editor's; null or absent: none. */
  saved?: ISavedNotebook | null;
}

/** The saved .ipynb file of a run whose editor content differed from it. */
export interface ISavedNotebook {
  /** null when the setting says not to keep the notebook's bytes. */
  bytes: Uint8Array | null;
  sha256: string;
  size: number;
}

/** The saved file as posted and read back: its bytes, when kept, are the blob `sha256`. */
export interface ISavedNotebookRecord {
  sha256: string;
  size: number;
  stored: boolean;
}

/** One run, as the recorder hands it to the store. */
export interface IRunInput {
  /** Unique across tabs and reloads: the store keeps a run with a known id only once. */
  snapshot_id: string;
  trigger: RunTrigger;
  note: string;
  /** ISO 8601, when the environment was captured. */
  created_at: string;
  /** ISO 8601, when the run was recorded (end of the recording). */
  ended_at: string;
  /** snapshot_id of the run this one follows (automatic capture after a change). */
  parent_snapshot_id: string | null;
  kernel: IRunKernel;
  /** The capture, its files carrying base64 bytes verified against their sha256. */
  capture: ICapture;
  git: RunGit;
  notebook: IRunNotebook;
}

/** The kernel of a run. */
export interface IRunKernel {
  name: string;
  display_name: string;
  language: string;
  /** Its kernelspec as installed then; absent from older runs, null when unknown. */
  spec?: IKernelspecRecord | null;
}

/** One row of the run list. */
export interface IRunSummary {
  id: number;
  snapshot_id: string;
  /** Position of the run within its notebook (1, 2, ...): "Run #N". */
  number: number;
  notebook_path: string;
  trigger: RunTrigger;
  status: string;
  note: string;
  created_at: string;
  julia_version: string;
  git_sha: string | null;
  git_dirty: boolean | null;
  is_global_env: boolean;
  has_manifest: boolean;
  parent_id: number | null;
  /** sha256 of the captured manifest file, null when none was captured. */
  manifest_sha256: string | null;
  /** sha256 of the captured project file, null when none was captured. */
  project_sha256: string | null;
  /** File name of the captured manifest ("Manifest.toml", "Manifest-v1.11.toml"). */
  manifest_name: string | null;
  /** The active project file path as the kernel saw it (as text), null when none. */
  project_path: string | null;
  /** The notebook had unsaved changes: its stored bytes are the last saved version. */
  notebook_unsaved: boolean;
  /** A git patch of the uncommitted changes is stored. */
  has_patch: boolean;
  /** The git patch stopped at the size cap: changes beyond it were not captured. */
  patch_truncated: boolean;
}

/** A stored file of a run (its bytes stay in the blob table until asked for). */
export interface IRunFile {
  role: string;
  name: string;
  path: string;
  size: number;
  sha256: string;
}

/** Everything stored about one run. */
export interface IRunDetail extends IRunSummary {
  /**
   * The active project's files (roles project, manifest). The files of stacked
   * environments are in `capture.files` (roles env_project, env_manifest).
   */
  files: IRunFile[];
  capture: ICapture; // without bytes
  git: RunGit;
  notebook: IRunRecordNotebook;
  kernel: IRunInput['kernel'];
}

/** The notebook of a run as posted: its bytes, when kept, are the blob `sha256`. */
export interface IRunRecordNotebook extends Omit<
  IRunNotebook,
  'bytes' | 'saved'
> {
  stored: boolean;
  saved?: ISavedNotebookRecord | null;
}

/**
 * The git part of a run as posted: a patch is a blob of its own (`patch_sha256`; an
 * empty patch stays in place).
 */
export type RunRecordGit =
  | {
      state: 'ok';
      git: IGitState & { patch_sha256: string | null };
    }
  | { state: 'unknown'; error_code: string; message: string };

/**
 * A run as POSTed to /deardiary/runs (docs/store.md): an IRunInput without bytes; the
 * captured files, the notebook and the git patch are blobs named by their sha256.
 */
export interface IRunRecord extends Omit<IRunInput, 'git' | 'notebook'> {
  /** Its files without base64. */
  capture: ICapture;
  git: RunRecordGit;
  notebook: IRunRecordNotebook;
}

/** The result of adding a run. */
export interface IAddResult {
  run: IRunSummary;
  /** false when a run with this snapshot_id was already stored (another tab). */
  created: boolean;
}
