/**
 * The store's SQLite schema, created and upgraded by forward migrations keyed by
 * `PRAGMA user_version`. Shaped after DearDiary.jl (project -> experiment -> iteration)
 * plus a content-addressed blob table for the captured files, git patches and notebooks.
 */
import type { Database, SqlJsStatic } from 'sql.js';
import { StoreOpenError } from './errors';

/** One step of the schema: migration i brings user_version from i to i + 1. */
export type Migration = (db: Database) => void;

/** Marks the file as a DearDiary store (`PRAGMA application_id`, "DDry"). */
export const APPLICATION_ID = 0x44447279;

const V1 = `
PRAGMA application_id = ${APPLICATION_ID};

-- The Jupyter root (one row).
CREATE TABLE project (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  created_date TEXT NOT NULL
);

-- One per notebook path.
CREATE TABLE experiment (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES project (id),
  name TEXT NOT NULL,
  created_date TEXT NOT NULL,
  UNIQUE (project_id, name)
);

-- Bytes, stored once by their sha256 (hex): captured files, notebooks, git patches,
-- environments (JSON).
CREATE TABLE blob (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  data BLOB NOT NULL
);

-- One per run.
CREATE TABLE iteration (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiment (id),
  snapshot_id TEXT NOT NULL UNIQUE,
  number INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'recorded',
  trigger TEXT NOT NULL,
  notes TEXT NOT NULL DEFAULT '',
  created_date TEXT NOT NULL,
  end_date TEXT,
  parent_iteration_id INTEGER REFERENCES iteration (id),
  julia_version TEXT NOT NULL DEFAULT '',
  git_sha TEXT,
  git_dirty INTEGER,
  entrypoint TEXT NOT NULL,
  is_global_env INTEGER NOT NULL,
  has_manifest INTEGER NOT NULL,
  kernel_name TEXT NOT NULL,
  kernel_display_name TEXT NOT NULL,
  notebook_sha256 TEXT NOT NULL,
  notebook_size INTEGER NOT NULL,
  notebook_blob TEXT REFERENCES blob (sha256),
  -- The capture (without bytes) and git state as JSON, shared by identical runs.
  environment_sha256 TEXT NOT NULL REFERENCES blob (sha256),
  -- Per-run facts as JSON (unsaved notebook changes, kernel language, parent).
  details TEXT NOT NULL,
  UNIQUE (experiment_id, number)
);
CREATE INDEX iteration_by_experiment_date ON iteration (experiment_id, created_date);
CREATE INDEX iteration_by_julia_version ON iteration (julia_version);
CREATE INDEX iteration_by_git_sha ON iteration (git_sha);

-- The captured files of a run (Project.toml, Manifest.toml).
CREATE TABLE iteration_file (
  iteration_id INTEGER NOT NULL REFERENCES iteration (id),
  role TEXT NOT NULL,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL REFERENCES blob (sha256),
  PRIMARY KEY (iteration_id, role, name)
) WITHOUT ROWID;
CREATE INDEX iteration_file_by_sha256 ON iteration_file (sha256);
`;

/** The migrations of this version of the extension, oldest first. */
export const MIGRATIONS: readonly Migration[] = [db => db.exec(V1)];

/** The schema version this extension writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Read `PRAGMA user_version`. */
export function userVersion(db: Database): number {
  return Number(db.exec('PRAGMA user_version')[0].values[0][0]);
}

/**
 * Bring `db` to the latest version of `migrations`, one transaction per step.
 * A database newer than the latest migration is refused (`newer_schema`).
 */
export function migrate(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS
): void {
  const version = userVersion(db);
  if (version > migrations.length) {
    throw new StoreOpenError(
      'newer_schema',
      `The store was written by a newer version of jupyterlab-deardiary (schema ` +
        `${version}, this version knows up to ${migrations.length}). Upgrade the extension.`
    );
  }
  for (let v = version; v < migrations.length; v++) {
    db.exec('BEGIN');
    try {
      migrations[v](db);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
  db.exec('PRAGMA foreign_keys = ON');
}

const MAGIC = 'SQLite format 3\0';

/**
 * Open store bytes (null or empty: a new store) and migrate them to the latest schema.
 * Throws StoreOpenError when the bytes are not a usable DearDiary store; they are never
 * changed.
 */
export function openStore(
  SQL: SqlJsStatic,
  bytes: Uint8Array | null,
  migrations: readonly Migration[] = MIGRATIONS
): Database {
  if (bytes === null || bytes.length === 0) {
    const db = new SQL.Database();
    migrate(db, migrations);
    return db;
  }
  const header = String.fromCharCode(...bytes.subarray(0, MAGIC.length));
  if (bytes.length < 100 || header !== MAGIC) {
    throw new StoreOpenError(
      'not_sqlite',
      'The store file is not an SQLite database.'
    );
  }
  const db = new SQL.Database(bytes);
  try {
    check(db);
    migrate(db, migrations);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof StoreOpenError) {
      throw error;
    }
    throw new StoreOpenError(
      'corrupt',
      `The store file is damaged: ${(error as Error).message}`
    );
  }
}

/** Integrity and identity of an existing database. */
function check(db: Database): void {
  const result = db.exec('PRAGMA quick_check')[0]?.values ?? [];
  if (result.length !== 1 || result[0][0] !== 'ok') {
    throw new StoreOpenError(
      'corrupt',
      `The store file is damaged: ${result.map(r => r[0]).join('; ')}`
    );
  }
  const appId = Number(db.exec('PRAGMA application_id')[0].values[0][0]);
  const tables = Number(
    db.exec("SELECT count(*) FROM sqlite_master WHERE type = 'table'")[0]
      .values[0][0]
  );
  const empty = appId === 0 && userVersion(db) === 0 && tables === 0;
  if (appId !== APPLICATION_ID && !empty) {
    throw new StoreOpenError(
      'foreign',
      'The store file is an SQLite database of another application, not a DearDiary store.'
    );
  }
}
