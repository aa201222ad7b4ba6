/**
 * The browser's index of the store (docs/store.md): an SQLite image the server makes
 * (runs plus each manifest's package table, no blobs), opened with sql.js and kept
 * current with the server's deltas. Package filters answer from it.
 */
import type { Database, SqlValue } from 'sql.js';
import { fromColumns, IIndexDelta } from '../server/api';
import { ISqlJsLoader, loadSqlJs } from './sqljs';
import type { IRunSummary, RunTrigger } from './types';

/**
 * The order of the run list, newest first: the one rule, also the ORDER BY of
 * jupyterlab_deardiary/list_runs.sql (src/__tests__/runindex.spec.ts keeps them equal).
 */
export const RUN_ORDER = 'created_at DESC, id DESC';

/** RUN_ORDER for runs in memory (ISO 8601 times compare as text, as in SQLite). */
export function compareRuns(a: IRunSummary, b: IRunSummary): number {
  if (a.created_at !== b.created_at) {
    return a.created_at < b.created_at ? 1 : -1;
  }
  return b.id - a.id;
}

/** Package name (lower-cased) -> the versions found under it (null: none recorded). */
export type PackageVersions = ReadonlyMap<string, readonly (string | null)[]>;

const RUN_COLUMNS = `id, snapshot_id, number, notebook_path, trigger, status, note,
  created_at, julia_version, git_sha, git_dirty, is_global_env, has_manifest, parent_id,
  manifest_sha256, manifest_name, project_sha256, project_path, notebook_unsaved,
  has_patch, patch_truncated`;

export class RunIndex {
  private constructor(
    private readonly _db: Database,
    version: string
  ) {
    this._version = version;
  }

  /** Open an index image (sql.js is loaded on first use). */
  static async open(
    bytes: Uint8Array,
    version: string,
    sqljs?: ISqlJsLoader
  ): Promise<RunIndex> {
    const SQL = await loadSqlJs(sqljs);
    return new RunIndex(new SQL.Database(bytes), version);
  }

  /** The store version the index holds. */
  get version(): string {
    return this._version;
  }

  /** Apply the server's changes since `version` (the caller checked it is ours). */
  apply(delta: IIndexDelta): void {
    const db = this._db;
    db.exec('BEGIN');
    try {
      const runs = fromColumns(delta.runs);
      const gone = [...delta.deleted, ...runs.map(r => r.id)];
      const del = db.prepare('DELETE FROM run WHERE id = ?');
      gone.forEach(id => del.run([id]));
      del.free();
      const ins = db.prepare(
        `INSERT INTO run (${RUN_COLUMNS}) VALUES (${Array(21).fill('?').join(', ')})`
      );
      for (const r of runs) {
        ins.run([
          r.id,
          r.snapshot_id,
          r.number,
          r.notebook_path,
          r.trigger,
          r.status,
          r.note,
          r.created_at,
          r.julia_version,
          r.git_sha,
          bit(r.git_dirty),
          bit(r.is_global_env),
          bit(r.has_manifest),
          r.parent_id,
          r.manifest_sha256,
          r.manifest_name,
          r.project_sha256,
          r.project_path,
          bit(r.notebook_unsaved),
          bit(r.has_patch),
          bit(r.patch_truncated)
        ]);
      }
      ins.free();
      const { manifests, packages } = delta;
      const manifest = db.prepare(
        'INSERT OR REPLACE INTO manifest (sha256, error) VALUES (?, ?)'
      );
      const clear = db.prepare('DELETE FROM package WHERE manifest_sha256 = ?');
      manifests.sha256.forEach((sha, i) => {
        clear.run([sha]);
        manifest.run([sha, manifests.error[i] ?? null]);
      });
      manifest.free();
      clear.free();
      const pkg = db.prepare(
        'INSERT INTO package (manifest_sha256, name, version) VALUES (?, ?, ?)'
      );
      packages.manifest_sha256.forEach((sha, i) =>
        pkg.run([sha, packages.name[i], packages.version[i]])
      );
      pkg.free();
      db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('version', ?)", [
        delta.version
      ]);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
    this._version = delta.version;
  }

  /** The index has the packages of this manifest (or knows it could not read it). */
  hasManifest(sha256: string): boolean {
    const stmt = this._db.prepare('SELECT 1 FROM manifest WHERE sha256 = ?', [
      sha256
    ]);
    try {
      return stmt.step();
    } finally {
      stmt.free();
    }
  }

  /** Every run, in RUN_ORDER. */
  runs(): IRunSummary[] {
    const stmt = this._db.prepare(
      `SELECT ${RUN_COLUMNS} FROM run ORDER BY ${RUN_ORDER}`
    );
    const runs: IRunSummary[] = [];
    try {
      while (stmt.step()) {
        runs.push(toSummary(stmt.get()));
      }
    } finally {
      stmt.free();
    }
    return runs;
  }

  /**
   * For each manifest that has one of these packages (names in any case), the versions
   * of those packages in it. A version the manifest does not record ('' in the index,
   * e.g. a standard library) is null.
   */
  packageVersions(names: readonly string[]): Map<string, PackageVersions> {
    const result = new Map<string, Map<string, (string | null)[]>>();
    const stmt = this._db.prepare(
      'SELECT manifest_sha256, version FROM package WHERE name = ? COLLATE NOCASE'
    );
    try {
      for (const name of new Set(names.map(n => n.toLowerCase()))) {
        stmt.bind([name]);
        while (stmt.step()) {
          const [sha, version] = stmt.get() as [string, string];
          let packages = result.get(sha);
          if (!packages) {
            packages = new Map();
            result.set(sha, packages);
          }
          let versions = packages.get(name);
          if (!versions) {
            versions = [];
            packages.set(name, versions);
          }
          versions.push(version === '' ? null : version);
        }
        stmt.reset();
      }
    } finally {
      stmt.free();
    }
    return result;
  }

  close(): void {
    this._db.close();
  }

  private _version: string;
}

function bit(value: boolean | null): number | null {
  return value === null ? null : Number(value);
}

function text(value: SqlValue): string | null {
  return value === null ? null : String(value);
}

/** A row of RUN_COLUMNS as a summary. */
function toSummary(row: SqlValue[]): IRunSummary {
  return {
    id: Number(row[0]),
    snapshot_id: String(row[1]),
    number: Number(row[2]),
    notebook_path: String(row[3]),
    trigger: String(row[4]) as RunTrigger,
    status: String(row[5]),
    note: String(row[6] ?? ''),
    created_at: String(row[7]),
    julia_version: String(row[8] ?? ''),
    git_sha: text(row[9]),
    git_dirty: row[10] === null ? null : row[10] === 1,
    is_global_env: row[11] === 1,
    has_manifest: row[12] === 1,
    parent_id: row[13] === null ? null : Number(row[13]),
    manifest_sha256: text(row[14]),
    manifest_name: text(row[15]),
    project_sha256: text(row[16]),
    project_path: text(row[17]),
    notebook_unsaved: row[18] === 1,
    has_patch: row[19] === 1,
    patch_truncated: row[20] === 1
  };
}
