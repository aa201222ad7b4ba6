import { ServerConnection } from '@jupyterlab/services';
import type {
  IGitState,
  IRunDetail,
  IRunRecord,
  IRunSummary
} from '../store/types';
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

/**
 * A field of every run: one value per run, or, for values that repeat a lot, the
 * distinct values and the position of each run's value among them.
 */
export type RunColumn<T> = T[] | { values: T[]; index: number[] };

/** The runs field by field (compact columns), as the server lists them. */
export type RunColumns = {
  [K in keyof IRunSummary]: RunColumn<IRunSummary[K]>;
};

/** GET /deardiary/runs: the runs, newest first (RUN_ORDER), field by field. */
export interface IRunColumns {
  /** The store version the runs were read from; null: no store yet. */
  version: string | null;
  /** With `?limit=`: how many runs the store holds in all. */
  total?: number;
  columns: RunColumns;
}

/** The runs of one version of the store. */
export interface IRunList {
  /** Newest first (RUN_ORDER). */
  runs: IRunSummary[];
  /** The store version they were read from; null: no store yet. */
  version: string | null;
  /** How many runs the store holds (more than `runs` with a limit). */
  total: number;
}

/** POST /deardiary/runs answer. */
export interface IRunAdded {
  run: IRunSummary;
  /** false: a run with this snapshot id was stored already. */
  created: boolean;
  version: string;
}

/**
 * GET /deardiary/index?since=: the changes since a version, of the run list (runs,
 * deleted) and of the browser's index (manifests, packages).
 */
export interface IIndexDelta {
  version: string;
  /** The added and edited runs (for the run list: the index holds no runs). */
  runs: RunColumns;
  /** Ids of the deleted runs. */
  deleted: number[];
  /** Package rows of `manifests`, by manifest sha256 ('' version: none recorded). */
  packages: { manifest_sha256: string[]; name: string[]; version: string[] };
  /** The manifests first stored since then that a run names (error null: parsed). */
  manifests: { sha256: string[]; error: (string | null)[] };
}

/**
 * GET /deardiary/index: the whole index (an SQLite image of the manifests' packages,
 * docs/store.md), the changes since a version, no change, or no store yet.
 */
export type IndexAnswer =
  | { kind: 'image'; version: string; bytes: Uint8Array }
  | { kind: 'delta'; version: string; delta: IIndexDelta }
  | { kind: 'current'; version: string }
  | { kind: 'none' };

/**
 * GET /deardiary/packages?name=: per manifest sha256, per lower-cased package name, its
 * versions there (null: none recorded): the index's answer, from the server's copy.
 */
export interface IPackagesAnswer {
  version: string;
  manifests: Record<string, Record<string, (string | null)[]>>;
}

/** Where an unusable store was moved (POST /deardiary/store/aside). */
export interface IStoreAside {
  path: string;
  relpath: string | null;
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

  /**
   * The runs, newest first. `limit`: only the newest ones (`total` says how many there
   * are). `ifNoneMatch`: null when the store is still that version (304).
   */
  async listRuns(
    options: { limit?: number; ifNoneMatch?: string | null } = {}
  ): Promise<IRunList | null> {
    const query =
      options.limit !== undefined ? `?limit=${Math.floor(options.limit)}` : '';
    const headers: Record<string, string> = {};
    if (options.ifNoneMatch) {
      headers['If-None-Match'] = `"${options.ifNoneMatch}"`;
    }
    const raw = await requestRaw(
      `runs${query}`,
      { method: 'GET', headers },
      this.settings
    );
    if (raw.status === 304) {
      return null;
    }
    if (raw.status !== 200) {
      throw toError(raw);
    }
    const answer = parseJSON(raw) as unknown as IRunColumns;
    const runs = fromColumns(answer.columns);
    return {
      runs,
      version: answer.version === null ? null : unquote(answer.version),
      total: answer.total ?? runs.length
    };
  }

  /** Everything stored about one run (ServerError 404 `no_run` when there is none). */
  getRun(id: number): Promise<IRunDetail> {
    return requestJSON<IRunDetail>(`runs/${id}`, {}, this.settings);
  }

  /**
   * Store a run whose blobs the server has. ServerError 409 `missing_blobs` (body
   * `missing`): upload those and post again.
   */
  async addRun(record: IRunRecord): Promise<IRunAdded> {
    const added = await requestJSON<IRunAdded>(
      'runs',
      { method: 'POST', body: JSON.stringify(record) },
      this.settings
    );
    return { ...added, version: unquote(added.version) };
  }

  /** Replace a run's note. */
  async updateNote(
    id: number,
    note: string
  ): Promise<{ run: IRunSummary; version: string }> {
    const answer = await requestJSON<{ run: IRunSummary; version: string }>(
      `runs/${id}`,
      { method: 'PATCH', body: JSON.stringify({ note }) },
      this.settings
    );
    return { ...answer, version: unquote(answer.version) };
  }

  /** Delete a run (and the blobs only it referenced). */
  async deleteRun(id: number): Promise<{ version: string }> {
    const answer = await requestJSON<{ version: string }>(
      `runs/${id}`,
      { method: 'DELETE' },
      this.settings
    );
    return { version: unquote(answer.version) };
  }

  /** Which of these blobs (sha256 hex) the store lacks. */
  async missingBlobs(sha256s: string[]): Promise<string[]> {
    const answer = await requestJSON<{ missing: string[] }>(
      'blobs/missing',
      { method: 'POST', body: JSON.stringify({ sha256: sha256s }) },
      this.settings
    );
    return answer.missing;
  }

  /** Upload a blob's exact bytes (the server checks them against `sha256`). */
  async putBlob(sha256: string, bytes: Uint8Array): Promise<void> {
    const raw = await requestRaw(
      `blobs/${sha256}`,
      {
        method: 'PUT',
        body: bytes as BodyInit,
        headers: { 'Content-Type': 'application/octet-stream' }
      },
      this.settings
    );
    if (raw.status !== 200 && raw.status !== 201) {
      throw toError(raw);
    }
  }

  /** A blob's exact bytes, or null when the store has none by that sha256. */
  async getBlob(sha256: string): Promise<Uint8Array | null> {
    const raw = await requestRaw(
      `blobs/${sha256}`,
      { method: 'GET' },
      this.settings
    );
    if (raw.status === 404 && parseCode(raw) === 'no_blob') {
      return null;
    }
    if (raw.status !== 200) {
      throw toError(raw);
    }
    return new Uint8Array(raw.body);
  }

  /**
   * The browser's index: the changes since version `since` (JSON), or the whole index
   * (an SQLite image) when there is no `since` or the server cannot tell the changes.
   */
  async index(since: string | null = null): Promise<IndexAnswer> {
    const query = since ? `?since=${encodeURIComponent(since)}` : '';
    const raw = await requestRaw(
      `index${query}`,
      { method: 'GET' },
      this.settings
    );
    if (raw.status === 304) {
      return { kind: 'current', version: since! };
    }
    if (raw.status === 404 && parseCode(raw) === 'no_store') {
      return { kind: 'none' };
    }
    if (raw.status !== 200) {
      throw toError(raw);
    }
    const bytes = new Uint8Array(raw.body);
    if (!isSqlite(bytes)) {
      const delta = parseJSON(raw) as unknown as IIndexDelta;
      const version = unquote(delta.version);
      return { kind: 'delta', version, delta: { ...delta, version } };
    }
    return { kind: 'image', version: etagOf(raw.headers), bytes };
  }

  /** The versions of these packages in every manifest the index holds (IPackagesAnswer). */
  packages(names: readonly string[]): Promise<IPackagesAnswer> {
    const query = names.map(n => `name=${encodeURIComponent(n)}`).join('&');
    return requestJSON<IPackagesAnswer>(`packages?${query}`, {}, this.settings);
  }

  /**
   * Move an unusable store aside (`<name>.broken-<time>`); `etag` is the `store_etag`
   * the server named in its 409. Resolves with where the file is now.
   */
  keepStoreAside(etag: string): Promise<IStoreAside> {
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
      'The server answered without an ETag',
      200,
      'bad_response'
    );
  }
  return unquote(value);
}

/** One object per run out of the answer's columns. */
export function fromColumns(columns: RunColumns): IRunSummary[] {
  if (!columns?.id) {
    return [];
  }
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

const SQLITE_MAGIC = 'SQLite format 3\u0000';

/** The bytes are an SQLite database (its header), whatever the Content-Type says. */
function isSqlite(bytes: Uint8Array): boolean {
  if (bytes.length < SQLITE_MAGIC.length) {
    return false;
  }
  for (let i = 0; i < SQLITE_MAGIC.length; i++) {
    if (bytes[i] !== SQLITE_MAGIC.charCodeAt(i)) {
      return false;
    }
  }
  return true;
}

/** An ETag's bare value (a version, a sha256), without W/ and quotes. */
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
