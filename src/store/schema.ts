/**
 * The store's SQLite schema, created and upgraded by forward migrations keyed by
 * `PRAGMA user_version`. Shaped after DearDiary.jl (project -> experiment -> iteration)
 * plus a content-addressed blob table for the captured files, git patches and notebooks.
 */
import type { Database, SqlJsStatic } from 'sql.js';
import { PathValue, pathToString } from '../kernel/protocol';
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

/**
 * v2: facts the run list shows, as columns, so that listing runs reads no JSON. The git
 * patch becomes a column (and a foreign key) like every other blob reference:
 * iteration_file.sha256, iteration.notebook_blob, environment_sha256, patch_sha256.
 */
const V2 = `
-- The active project file as the kernel saw it, as text (null: no active project).
ALTER TABLE iteration ADD COLUMN project_path TEXT;
-- The git patch of uncommitted changes (also named in the environment JSON).
ALTER TABLE iteration ADD COLUMN patch_sha256 TEXT REFERENCES blob (sha256);
-- The patch stopped at the size cap: changes beyond it were not captured.
ALTER TABLE iteration ADD COLUMN patch_truncated INTEGER NOT NULL DEFAULT 0;
-- The notebook had unsaved changes (also in details).
ALTER TABLE iteration ADD COLUMN notebook_unsaved INTEGER NOT NULL DEFAULT 0;

UPDATE iteration SET notebook_unsaved =
  coalesce(json_extract(details, '$.notebook.unsaved_changes'), 0) = 1;
`;

/** The part of a run's environment JSON that v2 copies into columns. */
interface IEnvironmentFacts {
  capture?: { project?: { path: PathValue } | null };
  git?: { state: string; git?: { truncated?: boolean } };
  patch_sha256?: string | null;
}

function migrateV2(db: Database): void {
  db.exec(V2);
  // Runs of one environment share its JSON: read each once.
  const stmt = db.prepare(
    `SELECT sha256, CAST(data AS TEXT) FROM blob
     WHERE sha256 IN (SELECT environment_sha256 FROM iteration)`
  );
  const facts: Array<[string, string | null, string | null, number]> = [];
  try {
    while (stmt.step()) {
      const [sha, text] = stmt.get() as [string, string];
      const env = JSON.parse(text) as IEnvironmentFacts;
      const path = env.capture?.project?.path;
      facts.push([
        sha,
        path === undefined || path === null ? null : pathToString(path),
        env.patch_sha256 ?? null,
        Number(env.git?.state === 'ok' && env.git.git?.truncated === true)
      ]);
    }
  } finally {
    stmt.free();
  }
  db.exec(
    `CREATE TEMP TABLE v2_environment (
       sha256 TEXT PRIMARY KEY, project_path TEXT, patch_sha256 TEXT,
       patch_truncated INTEGER)`
  );
  for (const row of facts) {
    db.run('INSERT INTO v2_environment VALUES (?, ?, ?, ?)', row);
  }
  db.exec(`
    UPDATE iteration SET
      project_path = f.project_path,
      patch_sha256 = f.patch_sha256,
      patch_truncated = f.patch_truncated
    FROM v2_environment f WHERE f.sha256 = iteration.environment_sha256;
    DROP TABLE v2_environment;
  `);
}

/** The migrations of this version of the extension, oldest first. */
export const MIGRATIONS: readonly Migration[] = [db => db.exec(V1), migrateV2];

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

/** `PRAGMA auto_vacuum` value of INCREMENTAL. */
const INCREMENTAL = 2;

/**
 * Give the pages freed by deletions back, so that the exported file shrinks (outside a
 * transaction). A store in auto_vacuum INCREMENTAL mode moves only as many pages as
 * were freed; another one is switched to it first, by a full VACUUM (once: the mode is
 * kept in the file).
 */
export function shrink(db: Database): void {
  const mode = Number(db.exec('PRAGMA auto_vacuum')[0].values[0][0]);
  if (mode === INCREMENTAL) {
    db.exec('PRAGMA incremental_vacuum');
  } else {
    db.exec(`PRAGMA auto_vacuum = ${INCREMENTAL}`);
    db.exec('VACUUM');
  }
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
    // Before the first table: deleting runs can give pages back cheaply (see
    // `shrink`). Stores created before this are switched on their first deletion.
    db.exec('PRAGMA auto_vacuum = INCREMENTAL');
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
