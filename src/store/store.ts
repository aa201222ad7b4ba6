/**
 * The run store: one SQLite file on the server, edited in the browser with sql.js and
 * written back whole under If-Match. Runs not yet written stay pending in this tab.
 */
import type { Database, SqlJsStatic, SqlValue } from 'sql.js';
import { ISignal, Signal } from '@lumino/signaling';
import { fromBase64, pathToString } from '../kernel/protocol';
import { sha256 } from '../kernel/sha256';
import type { IStoreSnapshot, IStoreWritten } from '../server/api';
import { ServerError } from '../server/request';
import { RunInputError, StoreOpenError, StoreSaveError } from './errors';
import { Migration, MIGRATIONS, openStore, shrink } from './schema';
import { ISqlJsLoader, loadSqlJs } from './sqljs';
import type {
  IAddResult,
  IRunDetail,
  IRunFile,
  IRunInput,
  IRunKernel,
  IRunSummary,
  RunGit,
  RunTrigger
} from './types';

/** The part of DearDiaryAPI the store uses. */
export interface IStoreAPI {
  readStore(): Promise<IStoreSnapshot | null>;
  writeStore(bytes: Uint8Array, etag: string | null): Promise<IStoreWritten>;
}

/** Where pending runs survive a reload of the page. */
export interface IPendingStorage {
  storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;
  key: string;
}

export interface IRunStoreOptions {
  api: IStoreAPI;
  /**
   * Keep a copy of an unusable store file before `startFresh()` replaces it; resolves
   * with where the copy is (shown to the user).
   */
  keepAside: (bytes: Uint8Array) => Promise<string>;
  /** The project row's name (the Jupyter root). Default "Jupyter". */
  projectName?: string;
  /** How to load sql.js (tests, benchmarks); default: the browser build, lazily. */
  sqljs?: ISqlJsLoader;
  /** Attempts of one save when other writers keep changing the store. Default 5. */
  maxAttempts?: number;
  /** First backoff between attempts, doubled each time (with jitter). Default 50 ms. */
  backoffMs?: number;
  /** Serializes writes between tabs; default `navigator.locks` when there is one. */
  locks?: Pick<LockManager, 'request'> | null;
  /** Default: sessionStorage when there is one. null: in memory only. */
  pendingStorage?: IPendingStorage | null;
  /** The schema's migrations (tests). */
  migrations?: readonly Migration[];
}

/** The Web Lock that serializes writes of the store between tabs of one browser. */
export const STORE_LOCK = 'jupyterlab-deardiary-store';

/** Bytes and their sha256 (hex). */
interface IBlob {
  sha256: string;
  bytes: Uint8Array;
}

/** A run whose bytes were verified, ready to insert. */
interface IPrepared {
  input: IRunInput;
  files: IBlob[];
  notebook: Uint8Array | null;
  patch: IBlob | null;
  /** IEnvironment as JSON. */
  environment: IBlob;
}

/**
 * The environment of a run (capture without bytes, git), stored as a JSON blob: runs of
 * an unchanged environment share one copy.
 */
interface IEnvironment {
  capture: IRunDetail['capture'];
  /** Without its patch, which is a blob of its own. */
  git: RunGit;
  patch_sha256: string | null;
}

/** The per-run facts of the iteration's `details` column. */
interface IDetails {
  notebook: { unsaved_changes: boolean };
  kernel_language: string;
  parent_snapshot_id: string | null;
  /** The kernel's kernelspec (redacted); absent from older runs. */
  kernelspec?: IRunKernel['spec'];
}

type Row = Record<string, SqlValue>;

/**
 * A change of stored runs (note, deletion), applied in a transaction on top of the
 * server's version of the store and re-applied after each reload. Returns whether it
 * changed anything.
 */
type Edit = (db: Database) => boolean;

/** There is no run with this id (or no longer: another tab deleted it). */
export class RunNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunNotFoundError';
  }
}

export class RunStore {
  constructor(options: IRunStoreOptions) {
    this._api = options.api;
    this._keepAside = options.keepAside;
    this._projectName = options.projectName ?? 'Jupyter';
    this._sqljs = options.sqljs;
    this._maxAttempts = options.maxAttempts ?? 5;
    this._backoffMs = options.backoffMs ?? 50;
    this._locks =
      options.locks !== undefined
        ? options.locks
        : (globalThis.navigator?.locks ?? null);
    this._storage =
      options.pendingStorage !== undefined
        ? options.pendingStorage
        : defaultStorage();
    this._migrations = options.migrations ?? MIGRATIONS;
    this._restored = this._readStoredPending();
  }

  /** Emitted after each successful save and each (re)load of the store. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The server's version of the store that is loaded (null: none loaded, or none yet). */
  get etag(): string | null {
    return this._etag;
  }

  /** Runs waiting to be written to the server. */
  get pendingCount(): number {
    return this._pending.size + this._restored.length;
  }

  /** Load the store (GET; none yet: a new empty one, written with the first run). */
  open(): Promise<void> {
    return this._serialize(async () => {
      await this._ensureOpen();
    });
  }

  /**
   * Store a run: verify its bytes, insert it (once per snapshot_id, bytes once per
   * sha256) and write the store. Throws RunInputError (nothing stored), StoreOpenError
   * or StoreSaveError (the run stays pending; see `retryPending()`).
   */
  async addRun(input: IRunInput): Promise<IAddResult> {
    const prepared = await prepare(input);
    return this._serialize(async () => {
      const id = input.snapshot_id;
      let db: Database;
      try {
        db = await this._ensureOpen();
      } catch (error) {
        this._keepPending(prepared);
        throw this._saveError(error, false);
      }
      if (!this._pending.has(id) && findRun(db, id) !== null) {
        // Already stored (another tab received the same snapshot).
        return { run: this._summary(db, id), created: false };
      }
      this._keepPending(prepared);
      const { created } = await this._save();
      return { run: this._summary(this._db!, id), created: created.has(id) };
    });
  }

  /** Write the pending runs; resolves with how many were written. */
  retryPending(): Promise<number> {
    return this._serialize(async () => {
      if (this.pendingCount === 0) {
        return 0;
      }
      try {
        await this._ensureOpen();
      } catch (error) {
        throw this._saveError(error, false);
      }
      const count = this._pending.size;
      await this._save();
      return count;
    });
  }

  /**
   * All runs, newest first (pending ones with status "pending"). One query; sorted
   * here, which is several times faster than SQLite sorting the wide rows.
   */
  listRuns(): Promise<IRunSummary[]> {
    return this._serialize(async () => {
      const db = await this._ensureOpen();
      // Cached until the next change (reading 10,000 rows out of sql.js costs ~120 ms).
      this._summaries ??= arrays(db, SUMMARY)
        .map(row => this._toSummary(row))
        .sort((a, b) =>
          a.created_at === b.created_at
            ? b.id - a.id
            : a.created_at < b.created_at
              ? 1
              : -1
        );
      return [...this._summaries];
    });
  }

  /** Everything stored about one run (RunNotFoundError when there is none). */
  getRun(id: number): Promise<IRunDetail> {
    return this._serialize(async () => {
      const db = await this._ensureOpen();
      const summary = arrays(db, `${SUMMARY} WHERE i.id = ?`, [id])[0];
      if (!summary) {
        throw noRun(id);
      }
      const base = this._toSummary(summary);
      const row = rows(db, 'SELECT * FROM iteration WHERE id = ?', [id])[0];
      const details = JSON.parse(String(row.details)) as IDetails;
      const env = JSON.parse(
        new TextDecoder().decode(blob(db, String(row.environment_sha256))!)
      ) as IEnvironment;
      const files = rows(
        db,
        `SELECT role, name, path, size, sha256 FROM iteration_file
         WHERE iteration_id = ? AND substr(role, 1, 4) <> 'env_'
         ORDER BY role DESC, name`,
        [id]
      ) as unknown as IRunFile[];
      let git = env.git;
      if (git.state === 'ok' && env.patch_sha256) {
        const patch = blob(db, env.patch_sha256);
        git = {
          state: 'ok',
          git: {
            ...git.git,
            patch: new TextDecoder().decode(patch ?? undefined)
          }
        };
      }
      return {
        ...base,
        files,
        capture: env.capture,
        git,
        notebook: {
          path: base.notebook_path,
          sha256: String(row.notebook_sha256),
          size: Number(row.notebook_size),
          unsaved_changes: details.notebook.unsaved_changes,
          stored: row.notebook_blob !== null
        },
        kernel: {
          name: String(row.kernel_name),
          display_name: String(row.kernel_display_name),
          language: details.kernel_language,
          ...(details.kernelspec !== undefined
            ? { spec: details.kernelspec }
            : {})
        }
      };
    });
  }

  /** The bytes stored under a sha256 (a captured file, a notebook), or null. */
  getBlob(sha: string): Promise<Uint8Array | null> {
    return this._serialize(async () => blob(await this._ensureOpen(), sha));
  }

  /**
   * The bytes stored under a sha256 decoded as UTF-8 (to view a captured file), or
   * null. A byte order mark is kept as U+FEFF; invalid UTF-8 becomes U+FFFD.
   */
  getText(sha: string): Promise<string | null> {
    return this._serialize(async () => {
      const bytes = blob(await this._ensureOpen(), sha);
      return bytes === null
        ? null
        : new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
    });
  }

  /**
   * Replace the note of a run and write the store (re-applied on top of other
   * writers' changes after a conflict). Resolves with the run as stored. Throws
   * RunNotFoundError (no such run, or another tab deleted it), StoreOpenError or
   * StoreSaveError (the note is not changed).
   */
  updateNote(id: number, note: string): Promise<IRunSummary> {
    return this._serialize(async () => {
      const snapshotId = snapshotIdOf(await this._ensureOpen(), id);
      await this._edit(db => {
        const runId = findRun(db, snapshotId);
        if (runId === null) {
          throw noRun(id, true);
        }
        db.run(
          'UPDATE iteration SET notes = ? WHERE id = ? AND notes IS NOT ?',
          [note, runId, note]
        );
        return db.getRowsModified() > 0;
      });
      return this._summary(this._db!, snapshotId);
    });
  }

  /**
   * Delete a run: its iteration and file rows; runs that followed it lose their
   * parent; then every blob it referenced that no other run references (captured
   * files, notebook, environment, git patch). The freed pages are given back before
   * the store is written, so the file shrinks. Re-applied on top of other writers'
   * changes after a conflict; resolves also when another tab deleted the run first.
   * Throws RunNotFoundError (no such run here), StoreOpenError or StoreSaveError
   * (nothing deleted).
   */
  deleteRun(id: number): Promise<void> {
    return this._serialize(async () => {
      const snapshotId = snapshotIdOf(await this._ensureOpen(), id);
      await this._edit(db => deleteIteration(db, snapshotId), true);
    });
  }

  /** Reload the store when it changed on the server; resolves with whether it did. */
  refresh(): Promise<boolean> {
    return this._serialize(async () => {
      if (!this._db) {
        await this._ensureOpen();
        return true;
      }
      const snapshot = await this._api.readStore();
      if ((snapshot?.etag ?? null) === this._etag) {
        return false;
      }
      await this._load(snapshot);
      return true;
    });
  }

  /**
   * The user chose to replace an unusable store: keep its bytes aside (`keepAside`),
   * then write a new store (with the pending runs) in its place. Resolves with where
   * the old bytes were kept, or null when the store opens fine after all (nothing
   * replaced).
   */
  startFresh(): Promise<string | null> {
    return this._serialize(async () => {
      const snapshot = await this._api.readStore();
      try {
        await this._load(snapshot);
        return null;
      } catch (error) {
        if (!(error instanceof StoreOpenError) || snapshot === null) {
          throw error;
        }
      }
      const keptAt = await this._keepAside(snapshot.bytes);
      this._replaceDb(openStore(await this._sql(), null), snapshot.etag);
      await this._save({ force: true });
      return keptAt;
    });
  }

  /** Release the database. */
  dispose(): void {
    this._db?.close();
    this._db = null;
  }

  private async _ensureOpen(): Promise<Database> {
    if (!this._db) {
      void this._sql().catch(() => undefined); // load sql.js while the store downloads
      await this._load(await this._api.readStore());
    }
    return this._db!;
  }

  private async _sql(): Promise<SqlJsStatic> {
    return loadSqlJs(this._sqljs);
  }

  /**
   * Replace the database with the server's bytes; pending runs are inserted on top
   * (shown as pending) unless `bare`.
   */
  private async _load(
    snapshot: IStoreSnapshot | null,
    bare = false
  ): Promise<void> {
    await this._adoptRestored();
    const SQL = await this._sql();
    this._replaceDb(
      openStore(SQL, snapshot?.bytes ?? null, this._migrations),
      snapshot?.etag ?? null
    );
    if (!bare && this._pending.size > 0) {
      this._apply();
      this._dirty = true;
    }
    this._emitChanged();
  }

  /** Every change ends here: the cached summaries are dropped, listeners told. */
  private _emitChanged(): void {
    this._summaries = null;
    this._changed.emit();
  }

  private _replaceDb(db: Database, etag: string | null): void {
    this._summaries = null;
    this._db?.close();
    this._db = db;
    this._etag = etag;
    this._dirty = false;
  }

  /**
   * Insert the pending runs, apply `edit`, and write the store under If-Match; on 412
   * reload and retry (both again). Resolves with the snapshot ids this write created
   * and whether it wrote. Writes nothing when all runs were stored already and the
   * edit changed nothing, unless `force`. `vacuum`: give freed pages back before
   * writing when the edit changed something (a deletion, so that the file shrinks).
   */
  private async _save(
    options: { force?: boolean; edit?: Edit; vacuum?: boolean } = {}
  ): Promise<{ created: Set<string>; wrote: boolean }> {
    const { force = false, edit, vacuum = false } = options;
    const attempt = async (): Promise<{
      created: Set<string>;
      wrote: boolean;
    }> => {
      for (let i = 1; ; i++) {
        let conflict = false;
        try {
          if (this._dirty) {
            // Start again from the server's version (the db holds unsaved changes).
            await this._load(await this._api.readStore(), true);
          }
          const written = [...this._pending.keys()];
          const created = this._apply();
          const edited = edit ? this._applyEdit(edit) : false;
          if (created.size === 0 && !edited && !force) {
            // All of them were stored already (by another tab): nothing to write.
            this._pending.clear();
            this._writeStoredPending();
            return { created, wrote: false };
          }
          this._dirty = true;
          if (edited && vacuum) {
            shrink(this._db!); // give the freed pages back: the file shrinks
          }
          const bytes = this._db!.export();
          this._db!.exec('PRAGMA foreign_keys = ON'); // export() reopened the db
          const answer = await this._api.writeStore(bytes, this._etag);
          this._etag = answer.etag;
          this._dirty = false;
          written.forEach(id => this._pending.delete(id));
          this._writeStoredPending();
          this._emitChanged();
          return { created, wrote: true };
        } catch (error) {
          conflict = error instanceof ServerError && error.status === 412;
          if (!conflict || i >= this._maxAttempts) {
            throw this._saveError(error, conflict, edit !== undefined);
          }
        }
        await sleep(this._backoffMs * 2 ** (i - 1) * (0.5 + Math.random()));
      }
    };
    return this._locks
      ? await this._locks.request(STORE_LOCK, attempt)
      : attempt();
  }

  /**
   * Write an edit with the pending runs; `changed` is emitted in any case. When it
   * cannot be written, the store is reloaded without it (or, the server being out of
   * reach, closed to be reloaded by the next operation).
   */
  private async _edit(edit: Edit, vacuum = false): Promise<void> {
    try {
      const { wrote } = await this._save({ edit, vacuum });
      if (!wrote) {
        this._emitChanged();
      }
    } catch (error) {
      if (this._dirty && !(error instanceof RunNotFoundError)) {
        try {
          await this._load(await this._api.readStore());
        } catch {
          this._db?.close();
          this._db = null;
          this._emitChanged();
        }
      }
      throw error;
    }
  }

  /** Apply an edit in a transaction; returns whether it changed anything. */
  private _applyEdit(edit: Edit): boolean {
    const db = this._db!;
    db.exec('BEGIN');
    try {
      const changed = edit(db);
      db.exec('COMMIT');
      this._summaries = null;
      return changed;
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }

  /** A StoreOpenError as is; anything else says how many runs wait. */
  private _saveError(error: unknown, conflict: boolean, edit = false): Error {
    if (
      error instanceof StoreOpenError ||
      error instanceof StoreSaveError ||
      error instanceof RunNotFoundError
    ) {
      return error;
    }
    const n = this.pendingCount;
    if (edit) {
      const reason = conflict
        ? 'the store kept changing while saving (other writers)'
        : `the store could not be saved (${(error as Error).message})`;
      const waiting = n
        ? `; ${n} run${n === 1 ? '' : 's'} not saved yet, kept in this tab`
        : '';
      return new StoreSaveError(
        `The change was not made: ${reason}${waiting}.`,
        n,
        { cause: error }
      );
    }
    const waiting = `${n} run${n === 1 ? '' : 's'} not saved yet, kept in this tab`;
    const message = conflict
      ? `The store kept changing while saving (other writers): ${waiting}.`
      : `The store could not be saved (${(error as Error).message}): ${waiting}.`;
    return new StoreSaveError(message, n, { cause: error });
  }

  private _keepPending(run: IPrepared): void {
    this._pending.set(run.input.snapshot_id, run);
    this._writeStoredPending();
  }

  /** Insert the pending runs that are not stored yet; returns their snapshot ids. */
  private _apply(): Set<string> {
    const db = this._db!;
    const created = new Set<string>();
    db.exec('BEGIN');
    try {
      for (const run of this._pending.values()) {
        if (insertRun(db, run, this._projectName)) {
          created.add(run.input.snapshot_id);
        }
      }
      db.exec('COMMIT');
      this._summaries = null;
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
    return created;
  }

  private _summary(db: Database, snapshotId: string): IRunSummary {
    const row = arrays(db, `${SUMMARY} WHERE i.snapshot_id = ?`, [
      snapshotId
    ])[0];
    return this._toSummary(row);
  }

  /** A row of SUMMARY (values in its column order) as a summary. */
  private _toSummary(row: SqlValue[]): IRunSummary {
    const [
      id,
      snapshotId,
      number,
      notebookPath,
      trigger,
      status,
      notes,
      createdDate,
      juliaVersion,
      gitSha,
      gitDirty,
      isGlobalEnv,
      hasManifest,
      parentId,
      manifestSha,
      manifestName,
      projectSha,
      projectPath,
      notebookUnsaved,
      patchSha,
      patchTruncated
    ] = row;
    return {
      id: Number(id),
      snapshot_id: String(snapshotId),
      number: Number(number),
      notebook_path: String(notebookPath),
      trigger: String(trigger) as RunTrigger,
      status:
        this._dirty && this._pending.has(String(snapshotId))
          ? 'pending'
          : String(status),
      note: String(notes),
      created_at: String(createdDate),
      julia_version: String(juliaVersion),
      git_sha: textOrNull(gitSha),
      git_dirty: gitDirty === null ? null : gitDirty === 1,
      is_global_env: isGlobalEnv === 1,
      has_manifest: hasManifest === 1,
      parent_id: parentId === null ? null : Number(parentId),
      manifest_sha256: textOrNull(manifestSha),
      project_sha256: textOrNull(projectSha),
      manifest_name: textOrNull(manifestName),
      project_path: textOrNull(projectPath),
      notebook_unsaved: notebookUnsaved === 1,
      has_patch: patchSha !== null,
      patch_truncated: patchTruncated === 1
    };
  }

  /** Operations of this tab run one at a time. */
  private _serialize<T>(fn: () => Promise<T>): Promise<T> {
    const result = this._queue.then(fn);
    this._queue = result.then(
      () => undefined,
      () => undefined
    );
    return result;
  }

  /* Pending runs survive a reload of the page through (session) storage. */

  private _readStoredPending(): IRunInput[] {
    try {
      const text = this._storage?.storage.getItem(this._storage.key);
      return text ? (JSON.parse(text) as StoredInput[]).map(decodeStored) : [];
    } catch {
      return [];
    }
  }

  private async _adoptRestored(): Promise<void> {
    const restored = this._restored;
    this._restored = [];
    for (const input of restored) {
      if (!this._pending.has(input.snapshot_id)) {
        try {
          this._pending.set(input.snapshot_id, await prepare(input));
        } catch {
          // Damaged in storage: it cannot be verified, so it is not stored.
        }
      }
    }
  }

  private _writeStoredPending(): void {
    if (!this._storage) {
      return;
    }
    const { storage, key } = this._storage;
    const runs = [
      ...this._restored,
      ...[...this._pending.values()].map(p => p.input)
    ];
    try {
      if (runs.length === 0) {
        storage.removeItem(key);
      } else {
        storage.setItem(key, JSON.stringify(runs.map(encodeStored)));
      }
    } catch {
      // Over quota: the runs stay pending in memory only.
    }
  }

  private _api: IStoreAPI;
  private _keepAside: (bytes: Uint8Array) => Promise<string>;
  private _projectName: string;
  private _sqljs: ISqlJsLoader | undefined;
  private _maxAttempts: number;
  private _backoffMs: number;
  private _locks: Pick<LockManager, 'request'> | null;
  private _storage: IPendingStorage | null;
  private _migrations: readonly Migration[];
  private _db: Database | null = null;
  private _summaries: IRunSummary[] | null = null;
  /** The server version the database was loaded from (null: no store yet). */
  private _etag: string | null = null;
  /** The database holds inserts the server does not have. */
  private _dirty = false;
  private _pending = new Map<string, IPrepared>();
  /** Pending runs read from storage, adopted (verified) when the store loads. */
  private _restored: IRunInput[];
  private _queue: Promise<void> = Promise.resolve();
  private _changed = new Signal<this, void>(this);
}

/**
 * The summaries of the runs, in the column order `_toSummary` reads (at most one project
 * and one manifest file per run). The server lists the runs with the same query
 * (jupyterlab_deardiary/list_runs.sql; src/__tests__/runs.spec.ts keeps the two texts
 * equal, runs.server.ts the rows).
 */
export const SUMMARY = `
SELECT i.id, i.snapshot_id, i.number, e.name AS notebook_path, i.trigger, i.status,
  i.notes, i.created_date, i.julia_version, i.git_sha, i.git_dirty, i.is_global_env,
  i.has_manifest, i.parent_iteration_id, m.sha256 AS manifest_sha256,
  m.name AS manifest_name, p.sha256 AS project_sha256, i.project_path,
  i.notebook_unsaved, i.patch_sha256, i.patch_truncated
FROM iteration i
JOIN experiment e ON e.id = i.experiment_id
LEFT JOIN iteration_file m ON m.iteration_id = i.id AND m.role = 'manifest'
LEFT JOIN iteration_file p ON p.iteration_id = i.id AND p.role = 'project'`;

function textOrNull(value: SqlValue): string | null {
  return value === null ? null : String(value);
}

function noRun(id: number, deleted = false): RunNotFoundError {
  return new RunNotFoundError(
    deleted
      ? `The run with id ${id} was deleted (in another tab).`
      : `There is no run with id ${id}.`
  );
}

/** The snapshot id of a run: edits follow it, as ids may change on reload. */
function snapshotIdOf(db: Database, id: number): string {
  const snapshotId = value(
    db,
    'SELECT snapshot_id FROM iteration WHERE id = ?',
    [id]
  );
  if (snapshotId === null) {
    throw noRun(id);
  }
  return String(snapshotId);
}

/** Decode and verify every byte of a run before anything is stored. */
async function prepare(input: IRunInput): Promise<IPrepared> {
  const files: IPrepared['files'] = [];
  for (const file of input.capture.files) {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(file.base64 ?? '');
    } catch {
      throw new RunInputError(`${file.name}: its base64 does not decode.`);
    }
    await verify(file.name, bytes, file.size, file.sha256);
    files.push({ sha256: file.sha256, bytes });
  }
  const { notebook } = input;
  if (notebook.bytes) {
    await verify(notebook.path, notebook.bytes, notebook.size, notebook.sha256);
  }
  const { capture, git } = input;
  const withPatch = git.state === 'ok' && git.git.patch ? git.git : null;
  const patch = withPatch ? await toBlob(withPatch.patch!) : null;
  const environment: IEnvironment = {
    capture: {
      ...capture,
      files: capture.files.map(({ base64, ...file }) => file)
    },
    git: withPatch
      ? { state: 'ok', git: { ...withPatch, patch: undefined } }
      : git,
    patch_sha256: patch?.sha256 ?? null
  };
  return {
    input,
    files,
    notebook: notebook.bytes,
    patch,
    environment: await toBlob(JSON.stringify(environment))
  };
}

async function toBlob(text: string): Promise<IBlob> {
  const bytes = new TextEncoder().encode(text);
  return { sha256: await sha256(bytes), bytes };
}

async function verify(
  name: string,
  bytes: Uint8Array,
  size: number,
  expected: string
): Promise<void> {
  if (bytes.length !== size) {
    throw new RunInputError(
      `${name}: ${bytes.length} bytes, ${size} were declared. Nothing was stored.`
    );
  }
  const actual = await sha256(bytes);
  if (actual !== expected) {
    throw new RunInputError(
      `${name}: the bytes hash to ${actual}, ${expected} was declared. Nothing was stored.`
    );
  }
}

/** Insert one run unless its snapshot_id is stored; returns whether it inserted. */
function insertRun(db: Database, run: IPrepared, projectName: string): boolean {
  const { input } = run;
  if (findRun(db, input.snapshot_id) !== null) {
    return false;
  }
  let projectId = value(db, 'SELECT id FROM project ORDER BY id LIMIT 1');
  if (projectId === null) {
    db.run('INSERT INTO project (name, created_date) VALUES (?, ?)', [
      projectName,
      input.created_at
    ]);
    projectId = value(db, 'SELECT last_insert_rowid()');
  }
  const path = input.notebook.path;
  db.run(
    `INSERT OR IGNORE INTO experiment (project_id, name, created_date)
     VALUES (?, ?, ?)`,
    [projectId, path, input.created_at]
  );
  const experimentId = value(
    db,
    'SELECT id FROM experiment WHERE project_id = ? AND name = ?',
    [projectId, path]
  );
  const putBlob = (sha: string, bytes: Uint8Array) =>
    db.run('INSERT OR IGNORE INTO blob (sha256, size, data) VALUES (?, ?, ?)', [
      sha,
      bytes.length,
      bytes
    ]);
  run.files.forEach(f => putBlob(f.sha256, f.bytes));
  if (run.notebook) {
    putBlob(input.notebook.sha256, run.notebook);
  }
  if (run.patch) {
    putBlob(run.patch.sha256, run.patch.bytes);
  }
  putBlob(run.environment.sha256, run.environment.bytes);
  const { capture, git } = input;
  const details: IDetails = {
    notebook: { unsaved_changes: input.notebook.unsaved_changes },
    kernel_language: input.kernel.language,
    parent_snapshot_id: input.parent_snapshot_id,
    ...(input.kernel.spec !== undefined
      ? { kernelspec: input.kernel.spec }
      : {})
  };
  const repo = git.state === 'ok' && git.git.repo ? git.git : null;
  db.run(
    `INSERT INTO iteration (
       experiment_id, snapshot_id, number, trigger, notes, created_date, end_date,
       parent_iteration_id, julia_version, git_sha, git_dirty, entrypoint,
       is_global_env, has_manifest, kernel_name, kernel_display_name,
       notebook_sha256, notebook_size, notebook_blob, environment_sha256, details,
       project_path, patch_sha256, patch_truncated, notebook_unsaved)
     VALUES (?, ?,
       (SELECT COALESCE(MAX(number), 0) + 1 FROM iteration WHERE experiment_id = ?),
       ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      experimentId,
      input.snapshot_id,
      experimentId,
      input.trigger,
      input.note,
      input.created_at,
      input.ended_at,
      input.parent_snapshot_id === null
        ? null
        : findRun(db, input.parent_snapshot_id),
      capture.julia_version,
      repo?.head_sha ?? null,
      repo?.dirty === undefined ? null : Number(repo.dirty),
      path,
      Number(capture.project?.is_global ?? false),
      Number(capture.files.some(f => f.role === 'manifest')),
      input.kernel.name,
      input.kernel.display_name,
      input.notebook.sha256,
      input.notebook.size,
      run.notebook ? input.notebook.sha256 : null,
      run.environment.sha256,
      JSON.stringify(details),
      capture.project ? pathToString(capture.project.path) : null,
      run.patch?.sha256 ?? null,
      Number(git.state === 'ok' && git.git.truncated === true),
      Number(input.notebook.unsaved_changes)
    ]
  );
  const iterationId = value(db, 'SELECT last_insert_rowid()');
  for (const file of capture.files) {
    db.run(
      `INSERT INTO iteration_file (iteration_id, role, name, path, size, sha256)
       VALUES (?, ?, ?, ?, ?, ?)`,
      [
        iterationId,
        // (iteration, role, name) is the key: each stacked environment has its own role
        file.env === undefined ? file.role : `${file.role}:${file.env}`,
        file.name,
        pathToString(file.path),
        file.size,
        file.sha256
      ]
    );
  }
  return true;
}

/**
 * Delete a run and the blobs only it referenced; returns false when it is not stored.
 * Every reference to a blob in the schema: iteration_file.sha256 (captured files),
 * iteration.notebook_blob, iteration.environment_sha256, iteration.patch_sha256.
 * (iteration.notebook_sha256 is a fact, not a reference: the bytes may not be kept.)
 */
function deleteIteration(db: Database, snapshotId: string): boolean {
  const id = findRun(db, snapshotId);
  if (id === null) {
    return false;
  }
  const candidates = rows(
    db,
    `SELECT sha256 FROM iteration_file WHERE iteration_id = ?1
     UNION SELECT notebook_blob FROM iteration WHERE id = ?1
     UNION SELECT environment_sha256 FROM iteration WHERE id = ?1
     UNION SELECT patch_sha256 FROM iteration WHERE id = ?1`,
    [id]
  )
    .map(r => r.sha256)
    .filter(sha => sha !== null);
  db.run(
    'UPDATE iteration SET parent_iteration_id = NULL WHERE parent_iteration_id = ?',
    [id]
  );
  db.run('DELETE FROM iteration_file WHERE iteration_id = ?', [id]);
  db.run('DELETE FROM iteration WHERE id = ?', [id]);
  for (const sha of candidates) {
    db.run(
      `DELETE FROM blob WHERE sha256 = ?1
       AND NOT EXISTS (SELECT 1 FROM iteration_file WHERE sha256 = ?1)
       AND NOT EXISTS (SELECT 1 FROM iteration WHERE notebook_blob = ?1
         OR environment_sha256 = ?1 OR patch_sha256 = ?1)`,
      [sha]
    );
  }
  return true;
}

function findRun(db: Database, snapshotId: string): number | null {
  const id = value(db, 'SELECT id FROM iteration WHERE snapshot_id = ?', [
    snapshotId
  ]);
  return id === null ? null : Number(id);
}

function blob(db: Database, sha: string): Uint8Array | null {
  const data = value(db, 'SELECT data FROM blob WHERE sha256 = ?', [sha]);
  return data instanceof Uint8Array ? data : null;
}

/** The rows of a query as arrays of values, in the order of its columns. */
function arrays(
  db: Database,
  sql: string,
  params: SqlValue[] = []
): SqlValue[][] {
  const stmt = db.prepare(sql, params);
  try {
    const result: SqlValue[][] = [];
    while (stmt.step()) {
      result.push(stmt.get());
    }
    return result;
  } finally {
    stmt.free();
  }
}

function rows(db: Database, sql: string, params: SqlValue[] = []): Row[] {
  const stmt = db.prepare(sql, params);
  try {
    const result: Row[] = [];
    while (stmt.step()) {
      result.push(stmt.getAsObject());
    }
    return result;
  } finally {
    stmt.free();
  }
}

function value(
  db: Database,
  sql: string,
  params: SqlValue[] = []
): SqlValue | null {
  const row = rows(db, sql, params)[0];
  return row ? Object.values(row)[0] : null;
}

/**
 * Insert runs straight into a database in one transaction, without writing it anywhere
 * (seeding stores for tests and benchmarks). Resolves with how many were new.
 */
export async function insertRuns(
  db: Database,
  inputs: Iterable<IRunInput>,
  projectName = 'Jupyter'
): Promise<number> {
  const prepared: IPrepared[] = [];
  for (const input of inputs) {
    prepared.push(await prepare(input));
  }
  let count = 0;
  db.exec('BEGIN');
  try {
    for (const run of prepared) {
      count += Number(insertRun(db, run, projectName));
    }
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
  return count;
}

/** sessionStorage, when the page has one it may use (it throws when blocked). */
function defaultStorage(): IPendingStorage | null {
  try {
    return typeof sessionStorage === 'undefined'
      ? null
      : { storage: sessionStorage, key: 'jupyterlab-deardiary.pending' };
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/* Pending runs in storage: the notebook's bytes as base64. */

type StoredInput = Omit<IRunInput, 'notebook'> & {
  notebook: Omit<IRunInput['notebook'], 'bytes'> & { bytes: string | null };
};

function encodeStored(input: IRunInput): StoredInput {
  const { bytes } = input.notebook;
  return {
    ...input,
    notebook: { ...input.notebook, bytes: bytes ? toBase64(bytes) : null }
  };
}

function decodeStored(stored: StoredInput): IRunInput {
  const { bytes } = stored.notebook;
  return {
    ...stored,
    notebook: {
      ...stored.notebook,
      bytes: typeof bytes === 'string' ? fromBase64(bytes) : null
    }
  };
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
