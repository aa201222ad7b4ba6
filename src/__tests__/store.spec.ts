import type { Database, SqlJsStatic } from 'sql.js';
import { ServerError } from '../server/request';
import { RunInputError, StoreOpenError, StoreSaveError } from '../store/errors';
import { openStore, SCHEMA_VERSION } from '../store/schema';
import { loadSqlJs } from '../store/sqljs';
import { IPendingStorage, IRunStoreOptions, RunStore } from '../store/store';
import type { IRunStore } from '../tokens';
import {
  conflict,
  count,
  FakeStoreAPI,
  makeRun,
  makeStore as makeTestStore,
  sha,
  SQLJS
} from './helpers/sqljs';

let SQL: SqlJsStatic;

beforeAll(async () => {
  SQL = await loadSqlJs(SQLJS);
});

/** Everything kept aside by startFresh(). */
let keptAside: Uint8Array[] = [];

beforeEach(() => {
  keptAside = [];
});

function makeStore(
  api: FakeStoreAPI,
  options: Partial<IRunStoreOptions> = {}
): RunStore {
  return makeTestStore(api, {
    keepAside: async bytes => {
      keptAside.push(new Uint8Array(bytes));
      return `.deardiary/deardiary.sqlite.bad-${keptAside.length}`;
    },
    ...options
  });
}

/** Open what the fake server holds, read-only. */
function serverDb(api: FakeStoreAPI): Database {
  return new SQL.Database(api.bytes!);
}

/** Bytes as a plain array (Uint8Arrays of jsdom and of Node differ for toEqual). */
function list(bytes: Uint8Array | null): number[] | null {
  return bytes && Array.from(bytes);
}

function memoryStorage(): IPendingStorage & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    key: 'pending',
    storage: {
      getItem: k => items.get(k) ?? null,
      setItem: (k, v) => void items.set(k, v),
      removeItem: k => void items.delete(k)
    }
  };
}

describe('RunStore', () => {
  it('creates the store with the first run and reads it back', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    const token: IRunStore = store; // RunStore provides the token's interface
    const changed = jest.fn();
    token.changed.connect(changed);
    await store.open();
    expect(api.writes).toEqual([]); // nothing written before the first run

    const input = makeRun({ patch: 'diff --git a/x b/x\n+1\n' });
    const { run, created } = await store.addRun(input);
    expect(created).toBe(true);
    expect(api.writes).toEqual([{ etag: null, ok: true }]);
    expect(run).toMatchObject({
      snapshot_id: input.snapshot_id,
      number: 1,
      notebook_path: 'analysis.ipynb',
      status: 'recorded',
      julia_version: '1.10.4',
      git_sha: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3',
      git_dirty: true,
      is_global_env: false,
      has_manifest: true,
      parent_id: null
    });
    expect(changed).toHaveBeenCalled();

    // Another tab (a new store object) sees it.
    const other = makeStore(api);
    const detail = await other.getRun(run.id);
    expect(detail.files.map(f => [f.role, f.name, f.path])).toEqual([
      ['project', 'Project.toml', '/home/u/demo/Project.toml'],
      ['manifest', 'Manifest.toml', '/home/u/demo/Manifest.toml']
    ]);
    expect(detail.git).toEqual(input.git);
    expect(detail.capture.files[0]).not.toHaveProperty('base64');
    expect(detail.notebook).toEqual({
      path: 'analysis.ipynb',
      sha256: input.notebook.sha256,
      size: input.notebook.size,
      unsaved_changes: false,
      stored: true
    });
    expect(detail.kernel).toEqual(input.kernel);
    const manifest = input.capture.files[1];
    const bytes = await other.getBlob(manifest.sha256);
    expect(Buffer.from(bytes!).toString('base64')).toBe(manifest.base64);
    expect(list(await other.getBlob(input.notebook.sha256))).toEqual(
      list(input.notebook.bytes)
    );
    expect(await other.getBlob('0'.repeat(64))).toBeNull();
  });

  it('stores identical files once and a snapshot id once', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    const first = makeRun();
    await store.addRun(first);
    await store.addRun(makeRun()); // same Project/Manifest/notebook bytes
    const again = await store.addRun(first);
    expect(again.created).toBe(false);
    expect(again.run.number).toBe(1);
    expect(api.okWrites).toBe(2); // the known snapshot id wrote nothing

    const db = serverDb(api);
    expect(count(db, 'SELECT count(*) FROM iteration')).toBe(2);
    expect(count(db, 'SELECT count(*) FROM iteration_file')).toBe(4);
    // Project.toml, Manifest.toml, the notebook, the environment (JSON).
    expect(count(db, 'SELECT count(*) FROM blob')).toBe(4);
    db.close();

    // A changed manifest: its bytes and a new environment.
    await store.addRun(makeRun({ manifest: 'julia_version = "1.11.0"\n' }));
    const after = serverDb(api);
    expect(count(after, 'SELECT count(*) FROM blob')).toBe(6);
    after.close();
  });

  it('keeps a snapshot received by two tabs once', async () => {
    const api = new FakeStoreAPI();
    const tabA = makeStore(api);
    const tabB = makeStore(api);
    await Promise.all([tabA.open(), tabB.open()]);
    const input = makeRun();
    const a = await tabA.addRun(input);
    const b = await tabB.addRun(input); // B's copy is stale: 412, reload, no insert
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.run.id).toBe(a.run.id);
    expect(api.writes.map(w => w.ok)).toEqual([true, false]); // B wrote nothing
    const db = serverDb(api);
    expect(count(db, 'SELECT count(*) FROM iteration')).toBe(1);
    db.close();
  });

  it('numbers runs per notebook and links parents', async () => {
    const store = makeStore(new FakeStoreAPI());
    const a1 = await store.addRun(makeRun({ notebook: 'a.ipynb' }));
    const a2 = await store.addRun(
      makeRun({ notebook: 'a.ipynb', parent: a1.run.snapshot_id })
    );
    const b1 = await store.addRun(makeRun({ notebook: 'dir/b.ipynb' }));
    const a3 = await store.addRun(makeRun({ notebook: 'a.ipynb' }));
    expect([a1, a2, b1, a3].map(r => r.run.number)).toEqual([1, 2, 1, 3]);
    expect(a2.run.parent_id).toBe(a1.run.id);
  });

  it('lists runs newest first', async () => {
    const store = makeStore(new FakeStoreAPI());
    await store.addRun(makeRun({ created_at: '2024-01-02T00:00:00Z' }));
    await store.addRun(makeRun({ created_at: '2024-01-03T00:00:00Z' }));
    await store.addRun(makeRun({ created_at: '2024-01-01T00:00:00Z' }));
    const runs = await store.listRuns();
    expect(runs.map(r => r.created_at)).toEqual([
      '2024-01-03T00:00:00Z',
      '2024-01-02T00:00:00Z',
      '2024-01-01T00:00:00Z'
    ]);
  });

  it('does not keep notebook bytes it was not given', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    const { run } = await store.addRun(makeRun({ notebookBytes: null }));
    const detail = await store.getRun(run.id);
    expect(detail.notebook.stored).toBe(false);
    expect(await store.getBlob(detail.notebook.sha256)).toBeNull();
  });

  it('refuses a file whose bytes do not match their sha256, storing nothing', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    const bad = makeRun();
    bad.capture.files[1].sha256 = sha('something else');
    await expect(store.addRun(bad)).rejects.toBeInstanceOf(RunInputError);
    await expect(store.addRun(bad)).rejects.toThrow(/Manifest.toml.*hash/);

    const wrongSize = makeRun();
    wrongSize.capture.files[0].size += 1;
    await expect(store.addRun(wrongSize)).rejects.toThrow(/declared/);

    const badNotebook = makeRun();
    badNotebook.notebook.sha256 = sha('other');
    await expect(store.addRun(badNotebook)).rejects.toBeInstanceOf(
      RunInputError
    );

    expect(store.pendingCount).toBe(0);
    expect(api.writes).toEqual([]);
    expect(await store.listRuns()).toEqual([]);
  });

  it('retries after a conflict: both runs kept, none duplicated', async () => {
    const api = new FakeStoreAPI();
    const tabA = makeStore(api);
    const tabB = makeStore(api);
    await tabA.addRun(makeRun({ notebook: 'n.ipynb' }));
    await tabB.open(); // B has the store with A's first run
    const changed = jest.fn();
    tabB.changed.connect(changed);

    // Another writer (A) adds a run; B's first write answers 412, then succeeds.
    const fromA = await tabA.addRun(makeRun({ notebook: 'n.ipynb' }));
    const fromB = await tabB.addRun(makeRun({ notebook: 'n.ipynb' }));
    expect(api.writes.slice(-2).map(w => w.ok)).toEqual([false, true]);
    expect(fromB.created).toBe(true);
    expect(fromB.run.number).toBe(3);
    expect(changed).toHaveBeenCalled();

    const db = serverDb(api);
    expect(
      db.exec('SELECT snapshot_id, number FROM iteration ORDER BY number')[0]
        .values
    ).toEqual([
      [expect.any(String), 1],
      [fromA.run.snapshot_id, 2],
      [fromB.run.snapshot_id, 3]
    ]);
    db.close();
    expect(await tabA.refresh()).toBe(true);
    expect((await tabA.listRuns()).length).toBe(3);
    expect(await tabA.refresh()).toBe(false);
  });

  it('retries on a 412 answered by the server', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    await store.addRun(makeRun());
    api.failWrite = n => {
      if (n === 1) {
        throw new ServerError('...', 412, 'etag_mismatch');
      }
    };
    const { created } = await store.addRun(makeRun());
    expect(created).toBe(true);
    expect(api.writes.map(w => w.ok)).toEqual([true, false, true]);
    expect(await store.listRuns()).toHaveLength(2);
  });

  it('keeps a run pending when retries are exhausted, and saves it later', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api, { maxAttempts: 3 });
    await store.addRun(makeRun());
    api.failWrite = () => {
      throw conflict();
    };
    const input = makeRun();
    const error = await store.addRun(input).catch(e => e);
    expect(error).toBeInstanceOf(StoreSaveError);
    expect(error.message).toMatch(/1 run not saved yet/);
    expect((error as StoreSaveError).pendingCount).toBe(1);
    expect(api.writes.filter(w => !w.ok)).toHaveLength(3);
    expect(store.pendingCount).toBe(1);
    const listed = await store.listRuns();
    expect(listed.find(r => r.snapshot_id === input.snapshot_id)?.status).toBe(
      'pending'
    );

    api.failWrite = null;
    expect(await store.retryPending()).toBe(1);
    expect(store.pendingCount).toBe(0);
    expect(await store.retryPending()).toBe(0);
    const db = serverDb(api);
    expect(count(db, 'SELECT count(*) FROM iteration')).toBe(2);
    db.close();
    expect((await store.listRuns()).map(r => r.status)).toEqual([
      'recorded',
      'recorded'
    ]);
  });

  it('keeps a run pending across a page reload when the server is unreachable', async () => {
    const api = new FakeStoreAPI();
    const storage = memoryStorage();
    const store = makeStore(api, { pendingStorage: storage });
    await store.open();
    api.failWrite = () => {
      throw new ServerError('Cannot reach the Jupyter server', 0, 'network');
    };
    const input = makeRun({ notebookBytes: new Uint8Array([1, 2, 255]) });
    await expect(store.addRun(input)).rejects.toThrow(
      /Cannot reach.*1 run not saved yet/
    );
    expect(api.writes).toHaveLength(1); // not retried: a network error is not a conflict
    expect(storage.items.size).toBe(1);

    // The page reloads: a new store finds the run in storage and writes it.
    api.failWrite = null;
    const reloaded = makeStore(api, { pendingStorage: storage });
    expect(reloaded.pendingCount).toBe(1);
    expect(await reloaded.retryPending()).toBe(1);
    expect(storage.items.size).toBe(0);
    const [run] = await reloaded.listRuns();
    expect(run.snapshot_id).toBe(input.snapshot_id);
    expect(list(await reloaded.getBlob(input.notebook.sha256))).toEqual([
      1, 2, 255
    ]);
  });

  it('serializes writes through the Web Lock', async () => {
    const names: string[] = [];
    const locks = {
      request: (async (name: string, fn: () => Promise<unknown>) => {
        names.push(name);
        return fn();
      }) as unknown as LockManager['request']
    };
    const store = makeStore(new FakeStoreAPI(), { locks });
    await store.addRun(makeRun());
    expect(names).toEqual(['jupyterlab-deardiary-store']);
  });

  describe('a store that cannot be opened', () => {
    function truncatedStore(): Uint8Array {
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
      return bytes.slice(0, bytes.length / 2);
    }

    function newerStore(): Uint8Array {
      const db = openStore(SQL, null);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
      const bytes = db.export();
      db.close();
      return bytes;
    }

    const cases: Array<[string, () => Uint8Array, string]> = [
      [
        'random bytes',
        () => new Uint8Array(3000).map((_, i) => (i * 31) & 0xff),
        'not_sqlite'
      ],
      ['a truncated SQLite file', truncatedStore, 'corrupt'],
      ['a newer schema', newerStore, 'newer_schema']
    ];

    it.each(cases)('%s is never overwritten', async (_, bytes, reason) => {
      const original = bytes();
      const api = new FakeStoreAPI(original);
      const store = makeStore(api);
      await expect(store.open()).rejects.toMatchObject({
        name: 'StoreOpenError',
        reason
      });
      const input = makeRun();
      const error = await store.addRun(input).catch(e => e);
      expect(error).toBeInstanceOf(StoreOpenError);
      expect(store.pendingCount).toBe(1);
      await expect(store.retryPending()).rejects.toBeInstanceOf(StoreOpenError);
      await expect(store.listRuns()).rejects.toBeInstanceOf(StoreOpenError);
      expect(api.writes).toEqual([]);
      expect(api.bytes).toEqual(original);
    });

    it('startFresh keeps the bad bytes aside and writes a new store', async () => {
      const original = truncatedStore();
      const api = new FakeStoreAPI(original);
      const badEtag = api.etag;
      const store = makeStore(api);
      const input = makeRun();
      await expect(store.addRun(input)).rejects.toBeInstanceOf(StoreOpenError);

      const keptAt = await store.startFresh();
      expect(keptAt).toBe('.deardiary/deardiary.sqlite.bad-1');
      expect(keptAside).toEqual([original]);
      expect(api.writes).toEqual([{ etag: badEtag, ok: true }]);
      expect(store.pendingCount).toBe(0);
      const runs = await store.listRuns();
      expect(runs.map(r => [r.snapshot_id, r.status])).toEqual([
        [input.snapshot_id, 'recorded']
      ]);
    });

    it('startFresh replaces nothing when keeping the bytes aside fails', async () => {
      const original = truncatedStore();
      const api = new FakeStoreAPI(original);
      const store = makeStore(api, {
        keepAside: () => Promise.reject(new Error('disk full'))
      });
      await expect(store.startFresh()).rejects.toThrow('disk full');
      expect(api.writes).toEqual([]);
      expect(api.bytes).toEqual(original);
    });

    it('startFresh replaces nothing when the store opens after all', async () => {
      const api = new FakeStoreAPI();
      const store = makeStore(api);
      await store.addRun(makeRun());
      expect(await store.startFresh()).toBeNull();
      expect(keptAside).toEqual([]);
      expect(api.okWrites).toBe(1);
    });
  });

  it('upgrades an older store when it writes', async () => {
    const api = new FakeStoreAPI();
    await makeStore(api).addRun(makeRun());
    const next = [
      ...(await import('../store/schema')).MIGRATIONS,
      (db: Database) => db.exec('ALTER TABLE iteration ADD COLUMN tags TEXT')
    ];
    const store = makeStore(api, { migrations: next });
    await store.addRun(makeRun());
    const db = serverDb(api);
    expect(count(db, 'PRAGMA user_version')).toBe(SCHEMA_VERSION + 1);
    expect(count(db, 'SELECT count(*) FROM iteration')).toBe(2);
    db.close();
    // This version of the extension now refuses it, and leaves it alone.
    await expect(makeStore(api).open()).rejects.toMatchObject({
      reason: 'newer_schema'
    });
  });
});
