/**
 * The browser's index of the store (docs/store.md): an SQLite image the server makes of
 * each manifest's package table (no runs: the run list holds them; no blobs), opened
 * with sql.js and kept current with the server's deltas. Package filters answer from it.
 */
import type { Database } from 'sql.js';
import type { IIndexDelta } from '../server/api';
import { ISqlJsLoader, loadSqlJs } from './sqljs';
import type { IRunSummary } from './types';

/**
 * The order of the run list, newest first: the one rule, also the ORDER BY of
 * jupyterlab_deardiary/list_runs.sql (src/__tests__/runs.spec.ts keeps them equal).
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
    const index = new RunIndex(new SQL.Database(bytes), version);
    index._warmUp();
    return index;
  }

  /** The store version the index holds. */
  get version(): string {
    return this._version;
  }

  /**
   * Apply the server's changes since `version` (the caller checked it is ours): the
   * packages of the manifests new since then. Runs are the run list's business.
   */
  apply(delta: IIndexDelta): void {
    const db = this._db;
    const { manifests, packages } = delta;
    db.exec('BEGIN');
    try {
      const find = db.prepare('SELECT id FROM manifest WHERE sha256 = ?');
      const add = db.prepare(
        'INSERT INTO manifest (sha256, error) VALUES (?, ?) RETURNING id'
      );
      const update = db.prepare('UPDATE manifest SET error = ? WHERE id = ?');
      const clear = db.prepare('DELETE FROM package WHERE manifest = ?');
      const ids = new Map<string, number>();
      try {
        manifests.sha256.forEach((sha, i) => {
          const error = manifests.error[i] ?? null;
          let id = first(find, [sha]);
          if (id !== null) {
            // indexed again (dropped with its runs, then stored again)
            clear.run([id]);
            update.run([error, id]);
          } else {
            id = first(add, [sha, error])!;
          }
          ids.set(sha, id);
        });
      } finally {
        [find, add, update, clear].forEach(stmt => stmt.free());
      }
      const pkg = db.prepare(
        'INSERT INTO package (manifest, name, version) VALUES (?, ?, ?)'
      );
      try {
        packages.manifest_sha256.forEach((sha, i) => {
          const id = ids.get(sha);
          if (id !== undefined) {
            pkg.run([id, packages.name[i], packages.version[i]]);
          }
        });
      } finally {
        pkg.free();
      }
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

  /**
   * For each manifest that has one of these packages (names in any case), the versions
   * of those packages in it. A version the manifest does not record ('' in the index,
   * e.g. a standard library) is null.
   */
  packageVersions(names: readonly string[]): Map<string, PackageVersions> {
    const result = new Map<string, Map<string, (string | null)[]>>();
    const stmt = this._db.prepare(
      `SELECT m.sha256, p.version FROM package p JOIN manifest m ON m.id = p.manifest
       WHERE p.name = ? COLLATE NOCASE`
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

  /**
   * Answer one package query now, while the index loads (at idle): WebAssembly compiles
   * sql.js's functions on their first call and the pages come into SQLite's cache, which
   * made the user's first package filter several times slower than the next ones.
   */
  private _warmUp(): void {
    const [first] = this._db.exec('SELECT name FROM package LIMIT 1');
    if (first) {
      this.packageVersions([String(first.values[0][0])]);
    }
  }

  private _version: string;
}

/** The first column of the statement's first row (null: no row); the statement is reset. */
function first(
  stmt: ReturnType<Database['prepare']>,
  params: (string | number | null)[]
): number | null {
  try {
    stmt.bind(params);
    return stmt.step() ? Number(stmt.get()[0]) : null;
  } finally {
    stmt.reset();
  }
}
