import type { Database, SqlJsStatic } from 'sql.js';
import { StoreOpenError } from '../store/errors';
import {
  APPLICATION_ID,
  migrate,
  Migration,
  MIGRATIONS,
  openStore,
  SCHEMA_VERSION,
  userVersion
} from '../store/schema';
import { loadSqlJs } from '../store/sqljs';
import { SQLJS } from './helpers/sqljs';

let SQL: SqlJsStatic;

beforeAll(async () => {
  SQL = await loadSqlJs(SQLJS);
});

function one(db: Database, sql: string): unknown {
  return db.exec(sql)[0]?.values[0]?.[0];
}

function names(db: Database, type: string): string[] {
  return (
    db.exec(`SELECT name FROM sqlite_master WHERE type = '${type}'`)[0]
      ?.values ?? []
  ).map(r => String(r[0]));
}

function openError(
  bytes: Uint8Array,
  migrations?: Migration[]
): StoreOpenError {
  try {
    openStore(SQL, bytes, migrations).close();
  } catch (error) {
    expect(error).toBeInstanceOf(StoreOpenError);
    return error as StoreOpenError;
  }
  throw new Error('the store opened');
}

describe('loadSqlJs', () => {
  it('loads sql.js once per loader', async () => {
    expect(loadSqlJs(SQLJS)).toBe(loadSqlJs(SQLJS));
    expect(await loadSqlJs(SQLJS)).toBe(SQL);
  });
});

describe('schema', () => {
  it('creates the latest schema in a new store', () => {
    const db = openStore(SQL, null);
    expect(SCHEMA_VERSION).toBe(2);
    expect(userVersion(db)).toBe(2);
    expect(one(db, 'PRAGMA application_id')).toBe(APPLICATION_ID);
    expect(one(db, 'PRAGMA foreign_keys')).toBe(1);
    expect(one(db, 'PRAGMA auto_vacuum')).toBe(2); // incremental
    expect(names(db, 'table').sort()).toEqual([
      'blob',
      'experiment',
      'iteration',
      'iteration_file',
      'project'
    ]);
    const columns = db
      .exec('PRAGMA table_info(iteration)')[0]
      .values.map(r => String(r[1]));
    expect(columns).toEqual(
      expect.arrayContaining([
        'project_path',
        'patch_sha256',
        'patch_truncated',
        'notebook_unsaved'
      ])
    );
    expect(names(db, 'index')).toEqual(
      expect.arrayContaining([
        'iteration_by_experiment_date',
        'iteration_by_julia_version',
        'iteration_by_git_sha',
        'iteration_file_by_sha256'
      ])
    );
    db.close();
  });

  it('enforces foreign keys', () => {
    const db = openStore(SQL, null);
    expect(() =>
      db.run(
        "INSERT INTO experiment (project_id, name, created_date) VALUES (42, 'a.ipynb', 'now')"
      )
    ).toThrow(/FOREIGN KEY/);
    db.close();
  });

  it('treats an empty file as a new store', () => {
    const db = openStore(SQL, new Uint8Array(0));
    expect(userVersion(db)).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('migrates an older store forward, keeping its rows', () => {
    const v1 = openStore(SQL, null);
    v1.run(
      "INSERT INTO project (name, created_date) VALUES ('root', '2024-01-01')"
    );
    const bytes = v1.export();
    v1.close();

    const next: Migration = db =>
      db.exec("ALTER TABLE project ADD COLUMN description TEXT DEFAULT ''");
    const db = openStore(SQL, bytes, [...MIGRATIONS, next]);
    expect(userVersion(db)).toBe(SCHEMA_VERSION + 1);
    expect(db.exec('SELECT name, description FROM project')[0].values).toEqual([
      ['root', '']
    ]);
    db.close();
  });

  it('rolls a failed migration back', () => {
    const db = openStore(SQL, null);
    const broken: Migration = d => {
      d.exec('CREATE TABLE extra (x)');
      d.exec('SELECT * FROM missing');
    };
    expect(() => migrate(db, [...MIGRATIONS, broken])).toThrow(/missing/);
    expect(userVersion(db)).toBe(SCHEMA_VERSION);
    expect(names(db, 'table')).not.toContain('extra');
    db.close();
  });

  it('refuses a store of a newer schema', () => {
    const db = openStore(SQL, null);
    db.exec('PRAGMA user_version = 7');
    const bytes = db.export();
    db.close();
    const error = openError(bytes);
    expect(error.reason).toBe('newer_schema');
    expect(error.message).toMatch(/schema 7/);
  });

  it('refuses bytes that are not SQLite', () => {
    const random = new Uint8Array(4096).map(() =>
      Math.floor(Math.random() * 256)
    );
    expect(openError(random).reason).toBe('not_sqlite');
    expect(openError(new TextEncoder().encode('hello')).reason).toBe(
      'not_sqlite'
    );
  });

  it('refuses a truncated store', () => {
    const db = openStore(SQL, null);
    for (let i = 0; i < 20; i++) {
      db.run('INSERT INTO blob (sha256, size, data) VALUES (?, ?, ?)', [
        `sha${i}`,
        5000,
        new Uint8Array(5000).fill(i)
      ]);
    }
    const bytes = db.export();
    db.close();
    const error = openError(bytes.slice(0, Math.floor(bytes.length / 2)));
    expect(error.reason).toBe('corrupt');
  });

  it('refuses a store whose pages are damaged', () => {
    const db = openStore(SQL, null);
    for (let i = 0; i < 200; i++) {
      db.run(
        "INSERT INTO project (name, created_date) VALUES (?, '2024-01-01')",
        [`project ${i} `.repeat(20)]
      );
    }
    const bytes = db.export();
    db.close();
    // Overwrite the second page onwards with garbage, keeping the header intact.
    const damaged = new Uint8Array(bytes);
    for (let i = 4096; i < damaged.length; i++) {
      damaged[i] = (i * 7919) & 0xff;
    }
    expect(openError(damaged).reason).toBe('corrupt');
  });

  it("refuses another application's SQLite database", () => {
    const db = new SQL.Database();
    db.exec('CREATE TABLE notes (x TEXT)');
    const bytes = db.export();
    db.close();
    expect(openError(bytes).reason).toBe('foreign');
  });
});
