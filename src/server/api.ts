import { ServerConnection } from '@jupyterlab/services';
import type { IRunSummary } from '../store/types';
import {
  requestJSON,
  requestRaw,
  ServerError,
  toError,
  parseJSON
} from './request';

/* The types below mirror the JSON of jupyterlab_deardiary/*.py field for field. */

/** GET /deardiary/version */
export interface IVersionInfo {
  name: string;
  version: string;
  api: number;
  /** The store file, relative to the server root (c.DearDiary.store_path). */
  store_path: string;
}

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

/** GET /deardiary/git?path= */
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

/** One file of a restore request. */
export interface IRestoreFile {
  name: string;
  base64: string;
  sha256: string;
}

/** What a RestoreResult echoes about the run. */
export interface IRestoreMetadata {
  project_path?: string | null;
  julia_version?: string | null;
  git_sha?: string | null;
  git_dirty?: boolean | null;
  entrypoint?: string | null;
}

/** POST /deardiary/restore body. */
export interface IRestoreRequest {
  target: string;
  files: IRestoreFile[];
  overwrite?: boolean;
  metadata?: IRestoreMetadata;
}

/** One written file of a RestoreResult. */
export interface IRestoredFile {
  name: string;
  path: string;
  relpath: string;
  size: number;
  sha256: string;
  verified: boolean;
}

/** POST /deardiary/restore answer. */
export interface IRestoreResult {
  target: string;
  target_abs: string;
  /** The folder of the project. */
  project_path: string | null;
  /** Its JuliaProject.toml or Project.toml, if one was restored. */
  project_file: string | null;
  julia_version: string | null;
  git_sha: string | null;
  git_dirty: boolean | null;
  entrypoint: string | null;
  metadata: IRestoreMetadata;
  files: IRestoredFile[];
}

/** POST /deardiary/worktree body: a run's code as a git worktree at its commit. */
export interface IWorktreeRequest {
  /** A notebook or folder inside the repository, relative to the server root. */
  path: string;
  /** A new or empty folder for the worktree, relative to the server root. */
  target: string;
  /** The run's commit: 40 (or 64) hexadecimal digits. */
  sha: string;
  /** The run's `git diff HEAD`, applied on top of the commit. */
  patch?: string;
  /** A truncated patch is never applied. */
  patch_truncated?: boolean;
}

/** A file of the patch that did not apply; it stays as it is at the commit. */
export interface IWorktreeConflict {
  path: string;
  message: string;
}

/** POST /deardiary/worktree answer. */
export interface IWorktreeResult {
  target: string;
  target_abs: string;
  /** The repository's toplevel relative to the server root, null when outside it. */
  toplevel: string | null;
  sha: string;
  patch_applied: boolean;
  patch_reason: null | 'empty' | 'truncated' | 'conflicts';
  applied_files: string[];
  conflicts: IWorktreeConflict[];
  /** Binary files the patch only names ("Binary files ... differ"): left at the commit. */
  skipped_binary: string[];
  /**
   * git-lfs files left as pointer files (the checkout runs no filter, so that no program
   * the repository names can run): `git lfs checkout` or `git lfs pull` fills them.
   */
  lfs_pointers: string[];
}

/** The store file's bytes and version. */
export interface IStoreSnapshot {
  bytes: Uint8Array;
  etag: string;
}

/**
 * A field of every run: one value per run, or, for values that repeat a lot, the
 * distinct values and the position of each run's value among them.
 */
export type RunColumn<T> = T[] | { values: T[]; index: number[] };

/**
 * GET /deardiary/runs: the runs of the store file as the server reads them (the rows of
 * RunStore.listRuns, newest first), field by field.
 */
export interface IRunColumns {
  /** The store version the runs were read from (an ETag); null: no store yet. */
  etag: string | null;
  /** The store schema the server reads (SCHEMA_VERSION of src/store/schema.ts). */
  schema_version: number;
  columns: { [K in keyof IRunSummary]: RunColumn<IRunSummary[K]> };
}

/** The runs of one version of the store. */
export interface IRunList {
  /** Newest first, as RunStore.listRuns lists them. */
  runs: IRunSummary[];
  /** The store version (sha256 hex) they were read from; null: no store yet. */
  etag: string | null;
  schema_version: number;
}

/** The version of the store after a write. */
export interface IStoreWritten {
  etag: string;
  size: number;
}

/** Typed client of the server extension's endpoints. */
export class DearDiaryAPI {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  version(): Promise<IVersionInfo> {
    return requestJSON<IVersionInfo>('version', {}, this.settings);
  }

  /** The git state of the repository holding `path` (relative to the server root). */
  git(path: string): Promise<IGitState> {
    const query = new URLSearchParams({ path }).toString();
    return requestJSON<IGitState>(`git?${query}`, {}, this.settings);
  }

  /** The store's bytes, or null when no store exists yet. */
  async readStore(): Promise<IStoreSnapshot | null> {
    const raw = await requestRaw('store', { method: 'GET' }, this.settings);
    if (raw.status === 404 && parseCode(raw) === 'no_store') {
      return null;
    }
    if (raw.status !== 200) {
      throw toError(raw);
    }
    return { bytes: new Uint8Array(raw.body), etag: etagOf(raw.headers) };
  }

  /**
   * The runs as the server reads them from the store file (before the store itself is
   * loaded). Fails with a ServerError: code `schema_mismatch` (409) when the file's
   * schema is not the one the server reads, `not_installed` from an older server.
   */
  async listRuns(): Promise<IRunList> {
    return runList(await requestJSON<IRunColumns>('runs', {}, this.settings));
  }

  /**
   * The run list, unless the store is still version `etag` (the list already held
   * then stays current: null, the server answered 304 without a body).
   */
  async listRunsIfChanged(etag: string): Promise<IRunList | null> {
    const raw = await requestRaw(
      'runs',
      { method: 'GET', headers: { 'If-None-Match': `"${etag}"` } },
      this.settings
    );
    if (raw.status === 304) {
      return null;
    }
    if (raw.status !== 200) {
      throw toError(raw);
    }
    return runList(parseJSON(raw) as unknown as IRunColumns);
  }

  /**
   * Replace the store's bytes. `etag` is the version the bytes were derived from, or
   * null to create the store. A concurrent change answers a ServerError with code
   * `etag_mismatch` (status 412) whose body carries `current_etag`.
   */
  async writeStore(
    bytes: Uint8Array,
    etag: string | null
  ): Promise<IStoreWritten> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/vnd.sqlite3'
    };
    if (etag === null) {
      headers['If-None-Match'] = '*';
    } else {
      headers['If-Match'] = `"${etag}"`;
    }
    const raw = await requestRaw(
      'store',
      { method: 'PUT', body: bytes as BodyInit, headers },
      this.settings
    );
    if (raw.status !== 200 && raw.status !== 201) {
      throw toError(raw);
    }
    const written = parseJSON(raw) as unknown as IStoreWritten;
    return { ...written, etag: unquote(written.etag) };
  }

  /**
   * Keep a copy of the store version `etag` beside it (`<name>.broken-<time>`), before
   * a store that cannot be opened is replaced. Resolves with where the copy is.
   */
  keepStoreAside(
    etag: string
  ): Promise<{ path: string; relpath: string | null }> {
    return requestJSON(
      'store/aside',
      { method: 'POST', headers: { 'If-Match': `"${etag}"` } },
      this.settings
    );
  }

  /** Write files into a folder inside the server root; see IRestoreRequest. */
  restore(request: IRestoreRequest): Promise<IRestoreResult> {
    return requestJSON<IRestoreResult>(
      'restore',
      { method: 'POST', body: JSON.stringify(request) },
      this.settings
    );
  }

  /** Check out a run's commit as a detached worktree and apply its patch; see IWorktreeRequest. */
  worktree(request: IWorktreeRequest): Promise<IWorktreeResult> {
    return requestJSON<IWorktreeResult>(
      'worktree',
      { method: 'POST', body: JSON.stringify(request) },
      this.settings
    );
  }
}

function etagOf(headers: Headers): string {
  const value = headers.get('ETag');
  if (!value) {
    throw new ServerError(
      'The store answered without an ETag',
      200,
      'bad_response'
    );
  }
  return unquote(value);
}

/** One object per run out of the answer's columns. */
function fromColumns(columns: IRunColumns['columns']): IRunSummary[] {
  const c = Object.fromEntries(
    Object.entries(columns).map(([field, column]) => [
      field,
      expand(column as RunColumn<unknown>)
    ])
  ) as unknown as { [K in keyof IRunSummary]: Array<IRunSummary[K]> };
  const count = c.id.length;
  if (Object.values(c).some(column => column.length !== count)) {
    throw new ServerError(
      'The run list has columns of different lengths',
      200,
      'bad_response'
    );
  }
  const runs: IRunSummary[] = new Array(count);
  for (let i = 0; i < count; i++) {
    // A literal: every run gets the same shape, ten times faster than field by field.
    runs[i] = {
      id: c.id[i],
      snapshot_id: c.snapshot_id[i],
      number: c.number[i],
      notebook_path: c.notebook_path[i],
      trigger: c.trigger[i],
      status: c.status[i],
      note: c.note[i],
      created_at: c.created_at[i],
      julia_version: c.julia_version[i],
      git_sha: c.git_sha[i],
      git_dirty: c.git_dirty[i],
      is_global_env: c.is_global_env[i],
      has_manifest: c.has_manifest[i],
      parent_id: c.parent_id[i],
      manifest_sha256: c.manifest_sha256[i],
      project_sha256: c.project_sha256[i],
      manifest_name: c.manifest_name[i],
      project_path: c.project_path[i],
      notebook_unsaved: c.notebook_unsaved[i],
      has_patch: c.has_patch[i],
      patch_truncated: c.patch_truncated[i]
    };
  }
  return runs;
}

function expand<T>(column: RunColumn<T>): T[] {
  return Array.isArray(column)
    ? column
    : column.index.map(i => column.values[i]);
}

/** An ETag's bare value (the sha256 hex), without W/ and quotes. */
export function unquote(etag: string): string {
  return etag.replace(/^W\//, '').replace(/"/g, '');
}

function parseCode(raw: Parameters<typeof parseJSON>[0]): string | undefined {
  try {
    const code = parseJSON(raw).error;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

function runList(answer: IRunColumns): IRunList {
  return {
    runs: fromColumns(answer.columns),
    etag: answer.etag === null ? null : unquote(answer.etag),
    schema_version: answer.schema_version
  };
}
