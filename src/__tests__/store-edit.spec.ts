/**
 * What the history sidebar needs from the run store: the summary's derived facts, note
 * edits, deleting runs (with their unshared blobs), text of captured files, and how fast
 * the list is with many runs.
 */
import type { Database, SqlJsStatic } from 'sql.js';
import { ServerError } from '../server/request';
import { StoreSaveError } from '../store/errors';
import { migrate, MIGRATIONS, openStore, userVersion } from '../store/schema';
import { loadSqlJs } from '../store/sqljs';
import { insertRuns, RunNotFoundError } from '../store/store';
import type { IRunInput } from '../store/types';
import type { IRunStore } from '../tokens';
import {
  conflict,
  count,
  FakeStoreAPI,
  IRunOptions,
  makeRun,
  makeStore,
  sha,
  SQLJS
} from './helpers/sqljs';

let SQL: SqlJsStatic;

beforeAll(async () => {
  SQL = await loadSqlJs(SQLJS);
});

function serverDb(api: FakeStoreAPI): Database {
  return new SQL.Database(api.bytes!);
}

/** The sha256s of the blob table on the server. */
function blobs(api: FakeStoreAPI): Set<string> {
  const db = serverDb(api);
  const result = new Set(
    (db.exec('SELECT sha256 FROM blob')[0]?.values ?? []).map(r => String(r[0]))
  );
  db.close();
  return result;
}

function fileSha(input: IRunInput, role: 'project' | 'manifest'): string {
  return input.capture.files.find(f => f.role === role)!.sha256;
}

/** A store on the fake server holding `inputs`, inserted in one transaction. */
async function seeded(inputs: IRunInput[]): Promise<FakeStoreAPI> {
  const db = openStore(SQL, null);
  expect(await insertRuns(db, inputs)).toBe(inputs.length);
  const bytes = db.export();
  db.close();
  return new FakeStoreAPI(bytes);
}

const manifests = new Map<string, string>();

/** A manifest of `packages` entries (about 150 bytes each), distinct per `seed`. */
function manifest(seed: number, packages = 40): string {
  const key = `${seed}/${packages}`;
  if (manifests.has(key)) {
    return manifests.get(key)!;
  }
  let text = `julia_version = "1.10.4"\nmanifest_format = "2.0"\nproject_hash = "${sha(String(seed))}"\n`;
  for (let p = 0; p < packages; p++) {
    text +=
      `\n[[deps.Package${p}]]\ndeps = ["LinearAlgebra"]\n` +
      `git-tree-sha1 = "${sha(`${seed}-${p}`).slice(0, 40)}"\n` +
      `uuid = "${sha(`u${p}`).slice(0, 8)}-0000-0000-0000-000000000000"\n` +
      `version = "1.${seed % 7}.${p}"\n`;
  }
  manifests.set(key, text);
  return text;
}

/** `n` runs over `environments` distinct manifests and 100 notebooks. */
function manyRuns(
  n: number,
  environments: number,
  extra: (i: number) => IRunOptions = () => ({})
): IRunInput[] {
  const start = Date.UTC(2024, 0, 1);
  const inputs: IRunInput[] = [];
  for (let i = 0; i < n; i++) {
    const env = i % environments;
    inputs.push(
      makeRun({
        notebook: `project-${i % 100}/analysis-${i % 100}.ipynb`,
        manifest: manifest(env),
        patch:
          env % 3 === 0
            ? `diff --git a/src.jl b/src.jl\n+x = ${env}\n`
            : undefined,
        created_at: new Date(start + i * 60_000).toISOString(),
        ...extra(i)
      })
    );
  }
  return inputs;
}

describe('run summaries', () => {
  it('carry the captured files, project path, unsaved notebook and patch facts', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    const full = makeRun({
      patch: 'diff --git a/x b/x\n+1\n',
      truncated: true,
      unsaved: true,
      manifestName: 'Manifest-v1.10.toml'
    });
    const bare = makeRun({
      noManifest: true,
      // The path's bytes are not UTF-8 ("caf\xe9"): shown with U+FFFD.
      projectPath: {
        b64: Buffer.from('/home/u/caf\xe9/Project.toml', 'latin1').toString(
          'base64'
        )
      }
    });
    const noProject = makeRun();
    noProject.capture.project = null;
    noProject.git = {
      state: 'unknown',
      error_code: 'timeout',
      message: 'slow'
    };

    const a = (await store.addRun(full)).run;
    const b = (await store.addRun(bare)).run;
    const c = (await store.addRun(noProject)).run;
    expect(a).toMatchObject({
      manifest_sha256: fileSha(full, 'manifest'),
      project_sha256: fileSha(full, 'project'),
      manifest_name: 'Manifest-v1.10.toml',
      project_path: '/home/u/demo/Project.toml',
      notebook_unsaved: true,
      has_patch: true,
      patch_truncated: true
    });
    expect(b).toMatchObject({
      manifest_sha256: null,
      project_sha256: fileSha(bare, 'project'),
      manifest_name: null,
      project_path: '/home/u/caf\ufffd/Project.toml',
      notebook_unsaved: false,
      has_patch: false,
      patch_truncated: false
    });
    expect(c).toMatchObject({
      project_path: null,
      has_patch: false,
      patch_truncated: false
    });

    // listRuns and getRun (another tab) say the same.
    const listed = await makeStore(api).listRuns();
    expect(listed).toEqual([c, b, a].map(r => ({ ...r })));
    const other = makeStore(api);
    for (const run of [a, b, c]) {
      const detail = await other.getRun(run.id);
      expect({ ...detail }).toMatchObject(run);
    }
  });

  it('lists 10,000 runs over 300 environments in one query', async () => {
    // Seeded apart, so that the inputs are garbage when the list is timed.
    const t0 = performance.now();
    const { api, newest, noted, patches } = await (async () => {
      const inputs = manyRuns(10_000, 300, i => ({
        unsaved: i % 10 === 0,
        note: i % 50 === 0 ? `note ${i}` : ''
      }));
      return {
        api: await seeded(inputs),
        newest: inputs[9_999].created_at,
        noted: inputs[50].snapshot_id,
        patches: inputs.filter(r => r.git.state === 'ok' && r.git.git.patch)
          .length
      };
    })();
    const seedMs = performance.now() - t0;

    const store = makeStore(api);
    await store.open();
    const prepare = jest.spyOn(SQL.Database.prototype, 'prepare');
    const exec = jest.spyOn(SQL.Database.prototype, 'exec');
    let t = performance.now();
    const runs = await store.listRuns();
    const firstMs = performance.now() - t;
    expect(prepare).toHaveBeenCalledTimes(1); // one query, not one per run
    expect(exec).not.toHaveBeenCalled();
    prepare.mockRestore();
    exec.mockRestore();
    const again: number[] = [];
    for (let k = 0; k < 7; k++) {
      t = performance.now();
      await store.listRuns();
      again.push(performance.now() - t);
    }
    again.sort((x, y) => x - y);

    expect(runs).toHaveLength(10_000);
    expect(runs[0].created_at).toBe(newest);
    expect(new Set(runs.map(r => r.manifest_sha256)).size).toBe(300);
    expect(runs.filter(r => r.has_patch)).toHaveLength(patches);
    expect(runs.filter(r => r.notebook_unsaved)).toHaveLength(1_000);
    expect(runs.find(r => r.snapshot_id === noted)?.note).toBe('note 50');
    process.stdout.write(
      `listRuns, 10,000 runs / 300 environments (store ${(api.bytes!.length / 1e6).toFixed(1)} MB): ` +
        `first ${firstMs.toFixed(0)} ms, then min ${again[0].toFixed(0)} / ` +
        `median ${again[3].toFixed(0)} ms of 7 (seeding ${seedMs.toFixed(0)} ms)` +
        '\n'
    );
  });
});

describe('updateNote', () => {
  it('writes the note and emits changed', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    const token: IRunStore = store;
    const { run } = await store.addRun(makeRun());
    const changed = jest.fn();
    token.changed.connect(changed);

    const updated = await token.updateNote(
      run.id,
      'baseline, before the upgrade'
    );
    expect(updated).toEqual({ ...run, note: 'baseline, before the upgrade' });
    expect(changed).toHaveBeenCalledTimes(1);
    expect(api.okWrites).toBe(2);
    const [again] = await makeStore(api).listRuns();
    expect(again.note).toBe('baseline, before the upgrade');

    // The same note again: nothing to write, changed still emitted.
    await store.updateNote(run.id, 'baseline, before the upgrade');
    expect(api.okWrites).toBe(2);
    expect(changed).toHaveBeenCalledTimes(2);
  });

  it('keeps the run another tab added meanwhile (412, reload, again)', async () => {
    const api = new FakeStoreAPI();
    const tabA = makeStore(api);
    const tabB = makeStore(api);
    const first = await tabA.addRun(makeRun());
    await tabB.open(); // B holds the store with the first run only
    const fromA = await tabA.addRun(makeRun());

    const updated = await tabB.updateNote(first.run.id, 'from B');
    expect(api.writes.slice(-2).map(w => w.ok)).toEqual([false, true]);
    expect(updated.note).toBe('from B');
    const db = serverDb(api);
    expect(
      db.exec('SELECT snapshot_id, notes FROM iteration ORDER BY id')[0].values
    ).toEqual([
      [first.run.snapshot_id, 'from B'],
      [fromA.run.snapshot_id, '']
    ]);
    db.close();
    expect(await tabB.listRuns()).toHaveLength(2);
  });

  it('writes the pending runs of the tab along with the note', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api, { maxAttempts: 1 });
    const { run } = await store.addRun(makeRun());
    api.failWrite = () => {
      throw conflict();
    };
    const pending = makeRun();
    await expect(store.addRun(pending)).rejects.toBeInstanceOf(StoreSaveError);
    api.failWrite = null;
    await store.updateNote(run.id, 'both');
    expect(store.pendingCount).toBe(0);
    const runs = await makeStore(api).listRuns();
    expect(runs.map(r => [r.snapshot_id, r.note, r.status])).toEqual([
      [pending.snapshot_id, '', 'recorded'],
      [run.snapshot_id, 'both', 'recorded']
    ]);
  });

  it('refuses a run that is not there, or was deleted by another tab', async () => {
    const api = new FakeStoreAPI();
    const tabA = makeStore(api);
    const tabB = makeStore(api);
    const { run } = await tabA.addRun(makeRun());
    await expect(tabA.updateNote(run.id + 1, 'x')).rejects.toBeInstanceOf(
      RunNotFoundError
    );
    await tabB.open();
    await tabA.deleteRun(run.id);
    const writes = api.writes.length;
    const error = await tabB.updateNote(run.id, 'too late').catch(e => e);
    expect(error).toBeInstanceOf(RunNotFoundError);
    expect(error.message).toMatch(/deleted/);
    expect(api.writes.length).toBe(writes + 1); // the 412, nothing written after it
    expect(await tabB.listRuns()).toEqual([]); // B now shows the server's store
  });

  it('changes nothing when the note cannot be written', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api, { maxAttempts: 2 });
    const { run } = await store.addRun(makeRun({ note: 'old' }));
    api.failWrite = () => {
      throw conflict();
    };
    const error = await store.updateNote(run.id, 'new').catch(e => e);
    expect(error).toBeInstanceOf(StoreSaveError);
    expect(error.message).toMatch(/change was not made.*kept changing/);
    expect((await store.listRuns())[0].note).toBe('old');

    // The server cannot be reached at all: the store reloads on the next read.
    const reads = api.reads;
    api.failWrite = () => {
      throw new ServerError('Cannot reach the Jupyter server', 0, 'network');
    };
    const readStore = api.readStore.bind(api);
    api.readStore = () => Promise.reject(new Error('offline'));
    await expect(store.updateNote(run.id, 'new')).rejects.toThrow(
      /change was not made.*Cannot reach/
    );
    api.readStore = readStore;
    expect((await store.listRuns())[0].note).toBe('old');
    expect(api.reads).toBeGreaterThan(reads);
    api.failWrite = null;
    expect((await store.updateNote(run.id, 'new')).note).toBe('new');
  });
});

describe('deleteRun', () => {
  it('removes the run, its unshared blobs, and shrinks the file', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    const changed = jest.fn();
    store.changed.connect(changed);
    const big = manifest(1, 2000); // about 300 kB, only in the first run
    const first = makeRun({
      manifest: big,
      patch: 'diff --git a/shared b/shared\n+1\n',
      notebookBytes: new TextEncoder().encode('{"cells": ["only first"]}')
    });
    // Same project file, same notebook as `third`, same patch as `first`, own manifest.
    const second = makeRun({
      parent: first.snapshot_id,
      manifest: manifest(2),
      patch: 'diff --git a/shared b/shared\n+1\n'
    });
    const third = makeRun({ patch: 'diff --git a/own b/own\n+3\n' });
    const a = (await store.addRun(first)).run;
    const b = (await store.addRun(second)).run;
    const c = (await store.addRun(third)).run;
    expect(b.parent_id).toBe(a.id);
    const before = blobs(api);
    const sizeBefore = api.bytes!.length;
    const patchShared = sha('diff --git a/shared b/shared\n+1\n');
    const patchOwn = sha('diff --git a/own b/own\n+3\n');
    expect(before.size).toBe(11);
    expect(before.has(patchShared) && before.has(patchOwn)).toBe(true);

    changed.mockClear();
    await store.deleteRun(a.id);
    expect(changed).toHaveBeenCalled();
    const after = blobs(api);
    // Gone: the first run's manifest, notebook and environment.
    expect(after.has(fileSha(first, 'manifest'))).toBe(false);
    expect(after.has(first.notebook.sha256)).toBe(false);
    // Kept: the project file and the patch the second run shares.
    expect(after.has(fileSha(first, 'project'))).toBe(true);
    expect(after.has(patchShared)).toBe(true);
    expect(after.size).toBe(before.size - 3);
    const sizeAfter = api.bytes!.length;
    expect(sizeAfter).toBeLessThan(sizeBefore - big.length * 0.9);

    const runs = await makeStore(api).listRuns();
    expect(runs.map(r => [r.id, r.parent_id])).toEqual([
      [c.id, null],
      [b.id, null] // its parent is gone
    ]);
    const db = serverDb(api);
    expect(count(db, 'SELECT count(*) FROM iteration_file')).toBe(4);
    expect(count(db, 'PRAGMA freelist_count')).toBe(0);
    expect(db.exec('PRAGMA foreign_key_check')).toEqual([]);
    db.close();

    // The patch goes with the last run that had it; the own patch with its run.
    await store.deleteRun(c.id);
    expect(blobs(api).has(patchOwn)).toBe(false);
    await store.deleteRun(b.id);
    expect(blobs(api)).toEqual(new Set());
    expect(await store.listRuns()).toEqual([]);
    await expect(store.getRun(a.id)).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(store.deleteRun(a.id)).rejects.toBeInstanceOf(
      RunNotFoundError
    );
  });

  it('keeps the run another tab added meanwhile, and its blobs', async () => {
    const api = new FakeStoreAPI();
    const tabA = makeStore(api);
    const tabB = makeStore(api);
    const shared = manifest(5);
    const { run } = await tabA.addRun(makeRun({ manifest: shared }));
    await tabB.open();
    // A adds a run using the same manifest: B's copy does not know about it.
    const fromA = await tabA.addRun(makeRun({ manifest: shared }));

    await tabB.deleteRun(run.id);
    expect(api.writes.slice(-2).map(w => w.ok)).toEqual([false, true]);
    const runs = await tabB.listRuns();
    expect(runs.map(r => r.snapshot_id)).toEqual([fromA.run.snapshot_id]);
    expect(await tabB.getText(sha(shared))).toBe(shared);
  });

  it('resolves when another tab deleted the run first, writing nothing', async () => {
    const api = new FakeStoreAPI();
    const tabA = makeStore(api);
    const tabB = makeStore(api);
    const { run } = await tabA.addRun(makeRun());
    await tabB.open();
    await tabA.deleteRun(run.id);
    const okWrites = api.okWrites;
    const changed = jest.fn();
    tabB.changed.connect(changed);
    await tabB.deleteRun(run.id);
    expect(api.okWrites).toBe(okWrites);
    expect(changed).toHaveBeenCalled();
    expect(await tabB.listRuns()).toEqual([]);
  });

  it('deletes a run that was still pending', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api, { maxAttempts: 1 });
    await store.addRun(makeRun());
    api.failWrite = () => {
      throw conflict();
    };
    const pending = makeRun({ manifest: manifest(9) });
    await expect(store.addRun(pending)).rejects.toBeInstanceOf(StoreSaveError);
    const listed = await store.listRuns();
    const row = listed.find(r => r.snapshot_id === pending.snapshot_id)!;
    expect(row.status).toBe('pending');
    api.failWrite = null;
    await store.deleteRun(row.id);
    expect(store.pendingCount).toBe(0);
    expect((await makeStore(api).listRuns()).length).toBe(1);
    expect(blobs(api).has(sha(manifest(9)))).toBe(false);
  });

  it('at 1,000 runs: gives pages back without a full VACUUM each time', async () => {
    // 1,000 runs over 100 manifests of ~30 kB, each run with its own ~16 kB notebook.
    const inputs = manyRuns(1_000, 100, i => ({
      manifest: manifest(i % 100, 200),
      notebookBytes: new TextEncoder().encode(
        JSON.stringify({ cells: [{ source: `run ${i} `.repeat(2_000) }] })
      )
    }));
    const seededApi = await seeded(inputs);
    const bytes = new Uint8Array(seededApi.bytes!);
    const mb = (n: number) => (n / 1e6).toFixed(2);

    /**
     * Delete the 5 newest runs; the time each took and the size after. `switching`:
     * the first deletion adds auto_vacuum's pointer-map pages (the file may grow).
     */
    async function deleteFive(
      api: FakeStoreAPI,
      switching = false
    ): Promise<string> {
      const store = makeStore(api);
      const runs = await store.listRuns();
      // Time spent in the fake server (hashing and copying the whole file).
      let serverMs = 0;
      const write = api.writeStore.bind(api);
      api.writeStore = async (bytes, etag) => {
        const t = performance.now();
        try {
          return await write(bytes, etag);
        } finally {
          serverMs += performance.now() - t;
        }
      };
      const report: string[] = [];
      const size0 = api.bytes!.length;
      let size = size0;
      for (const [k, run] of runs.slice(0, 5).entries()) {
        serverMs = 0;
        const t = performance.now();
        await store.deleteRun(run.id);
        const ms = performance.now() - t - serverMs;
        if (!(switching && k === 0)) {
          expect(api.bytes!.length).toBeLessThan(size);
        }
        size = api.bytes!.length;
        report.push(`${ms.toFixed(0)} ms`);
      }
      const db = serverDb(api);
      expect(count(db, 'PRAGMA auto_vacuum')).toBe(2); // incremental
      expect(count(db, 'PRAGMA freelist_count')).toBe(0);
      db.close();
      expect(size).toBeLessThan(size0);
      return `${report.join(', ')}; ${mb(size0)} -> ${mb(size)} MB`;
    }

    // A store created by this version: auto_vacuum incremental from the start.
    const fresh = await deleteFive(new FakeStoreAPI(bytes));

    // A store created before (auto_vacuum none): its first deletion switches it with
    // one full VACUUM; the same as VACUUM after every deletion would cost each time.
    const before = new SQL.Database(bytes);
    before.exec('PRAGMA auto_vacuum = NONE');
    before.exec('VACUUM');
    const old = before.export();
    before.close();
    const switched = await deleteFive(new FakeStoreAPI(old), true);

    // The parts, on a copy: a full VACUUM, incremental_vacuum and export().
    const db = new SQL.Database(bytes);
    db.exec(
      'DELETE FROM blob WHERE sha256 = (SELECT notebook_blob FROM iteration LIMIT 1)'
    );
    let t = performance.now();
    db.exec('PRAGMA incremental_vacuum');
    const incrementalMs = performance.now() - t;
    t = performance.now();
    db.exec('VACUUM');
    const vacuumMs = performance.now() - t;
    t = performance.now();
    db.export();
    const exportMs = performance.now() - t;
    db.close();
    process.stdout.write(
      `deleteRun at 1,000 runs (store ${mb(bytes.length)} MB):\n` +
        `  (without the fake server's time)\n` +
        `  new store (incremental): ${fresh}\n` +
        `  store from before (first deletion switches it): ${switched}\n` +
        `  parts: incremental_vacuum ${incrementalMs.toFixed(0)} ms, ` +
        `full VACUUM ${vacuumMs.toFixed(0)} ms, export ${exportMs.toFixed(0)} ms` +
        '\n'
    );
  });
});

/** The same store as a v1 store: v1's tables, v2's columns left out. */
function asV1(bytes: Uint8Array): Uint8Array {
  const from = new SQL.Database(bytes);
  const to = new SQL.Database(); // auto_vacuum none, as v1 created stores
  migrate(to, MIGRATIONS.slice(0, 1));
  for (const table of [
    'project',
    'experiment',
    'blob',
    'iteration',
    'iteration_file'
  ]) {
    const columns = to
      .exec(`PRAGMA table_info(${table})`)[0]
      .values.map(r => String(r[1]));
    const select = from.prepare(`SELECT ${columns.join(', ')} FROM ${table}`);
    while (select.step()) {
      to.run(
        `INSERT INTO ${table} (${columns.join(', ')})
         VALUES (${columns.map(() => '?').join(', ')})`,
        select.get()
      );
    }
    select.free();
  }
  from.close();
  expect(userVersion(to)).toBe(1);
  const v1 = to.export();
  to.close();
  return v1;
}

describe('schema v2', () => {
  it('migrates a v1 store holding runs: same summaries, then written as v2', async () => {
    const nonUtf8 = {
      b64: Buffer.from('/home/u/caf\xe9/Project.toml', 'latin1').toString(
        'base64'
      )
    };
    const noProject = makeRun({ created_at: '2024-01-05T00:00:00Z' });
    noProject.capture.project = null;
    const inputs = [
      makeRun({
        created_at: '2024-01-01T00:00:00Z',
        patch: 'diff --git a/x b/x\n+1\n',
        truncated: true,
        unsaved: true,
        manifestName: 'Manifest-v1.10.toml'
      }),
      makeRun({
        created_at: '2024-01-02T00:00:00Z',
        patch: 'diff --git a/x b/x\n+1\n' // the same patch, another environment
      }),
      makeRun({ created_at: '2024-01-03T00:00:00Z', unsaved: true }),
      makeRun({
        created_at: '2024-01-04T00:00:00Z',
        noManifest: true,
        projectPath: nonUtf8
      }),
      noProject
    ];
    const current = await seeded(inputs);
    const expected = await makeStore(current).listRuns();
    expect(expected.map(r => [r.has_patch, r.notebook_unsaved])).toEqual([
      [false, false],
      [false, false],
      [false, true],
      [true, false],
      [true, true]
    ]);

    const api = new FakeStoreAPI(asV1(current.bytes!));
    const db = serverDb(api);
    expect(
      db.exec(
        "SELECT count(*) FROM pragma_table_info('iteration') WHERE name = 'project_path'"
      )[0].values
    ).toEqual([[0]]);
    db.close();
    const store = makeStore(api);
    expect(await store.listRuns()).toEqual(expected);
    for (const run of expected) {
      expect(await store.getRun(run.id)).toMatchObject(run);
    }

    // The next write stores v2; the migrated patch column keeps the patch blob in use.
    await store.updateNote(expected[4].id, 'migrated');
    const after = serverDb(api);
    expect(userVersion(after)).toBe(2);
    expect(after.exec('PRAGMA foreign_key_check')).toEqual([]);
    expect(
      after.exec(
        'SELECT project_path, patch_sha256 IS NOT NULL, patch_truncated, notebook_unsaved FROM iteration ORDER BY created_date'
      )[0].values
    ).toEqual([
      ['/home/u/demo/Project.toml', 1, 1, 1],
      ['/home/u/demo/Project.toml', 1, 0, 0],
      ['/home/u/demo/Project.toml', 0, 0, 1],
      ['/home/u/caf\ufffd/Project.toml', 0, 0, 0],
      [null, 0, 0, 0]
    ]);
    after.close();
    const patch = sha('diff --git a/x b/x\n+1\n');
    await store.deleteRun(expected[4].id);
    expect(blobs(api).has(patch)).toBe(true);
    await store.deleteRun(expected[3].id);
    expect(blobs(api).has(patch)).toBe(false);
  });
});

describe('getText', () => {
  it('decodes a stored file as UTF-8, keeping a byte order mark', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    const text = '\ufeffname = "Démo"\n';
    const input = makeRun({ project: text });
    await store.addRun(input);
    const project = fileSha(input, 'project');
    expect(await store.getText(project)).toBe(text);
    expect((await store.getText(project))!.charCodeAt(0)).toBe(0xfeff);
    expect(await store.getText(input.notebook.sha256)).toBe('{"cells": []}');
    expect(await store.getText('0'.repeat(64))).toBeNull();
  });
});
