/**
 * The browser's run store (RunStore, src/store/client.ts) against a real jupyter_server
 * running the real server extension, which keeps the store in a real SQLite file: runs
 * read back byte for byte, a snapshot kept once, only missing blobs uploaded, notes,
 * deletions, another client's changes, package filters from the index, an unusable
 * store moved aside.
 */
import * as fs from 'fs';
import * as path from 'path';
import initSqlJs from 'sql.js';
import { parseQuery, matchRun } from '../manifest/search';
import { DearDiaryAPI } from '../server/api';
import { RunStore } from '../store/client';
import {
  RunInputError,
  RunNotFoundError,
  StoreOpenError,
  StoreSaveError
} from '../store/errors';
import { MemoryOutbox } from '../store/outbox';
import type { IRunSummary } from '../store/types';
import { makeRun, sha } from './helpers/sqljs';
import { useServer } from './helpers/server';

/** DearDiaryAPI that counts the blobs it uploads. */
class CountingAPI extends DearDiaryAPI {
  puts: string[] = [];
  /** Pretend the server lacks nothing (to meet its 409 missing_blobs). */
  hideMissing = false;

  async putBlob(sha256: string, bytes: Uint8Array): Promise<void> {
    this.puts.push(sha256);
    return super.putBlob(sha256, bytes);
  }

  /** GET /deardiary/index calls (`since` or null). */
  indexCalls: (string | null)[] = [];
  /** Hold the whole index's answer until this resolves. */
  holdImage: Promise<void> | null = null;

  /** Ask for the changes since a version of another store (as after a store's swap). */
  foreign = false;

  async index(since: string | null = null) {
    this.indexCalls.push(since);
    const answer = await super.index(
      since && this.foreign ? '0123456789abcdef.1' : since
    );
    if (since === null && this.holdImage) {
      await this.holdImage;
    }
    return answer;
  }

  /** GET /deardiary/packages calls. */
  packageCalls = 0;

  async packages(names: readonly string[]) {
    this.packageCalls++;
    return super.packages(names);
  }

  async missingBlobs(shas: string[]): Promise<string[]> {
    const missing = await super.missingBlobs(shas);
    return this.hideMissing ? [] : missing;
  }
}

const MANIFEST = (df: string, extra = '') => `# This file is machine-generated
julia_version = "1.10.4"
manifest_format = "2.0"
project_hash = "0123"

[[deps.CSV]]
deps = ["Dates"]
git-tree-sha1 = "aaaa"
uuid = "336ed68f-0bac-5ca0-87d4-7b16caf5d00b"
version = "0.10.14"

[[deps.DataFrames]]
git-tree-sha1 = "bbbb"
uuid = "a93c6f00-e57d-5684-b7b6-d8193f3e46c0"
version = "${df}"

[[deps.Dates]]
deps = ["Printf"]
uuid = "ade2ca70-3891-5945-98fb-dc099432e06a"
${extra}`;

describe('RunStore against a real server', () => {
  const suite = useServer();

  function client(api = new DearDiaryAPI(suite.server.settings)): RunStore {
    return new RunStore({
      api,
      sqljs: { init: initSqlJs }, // the Node build
      outbox: new MemoryOutbox(),
      legacyPending: null,
      locks: null
    });
  }

  it('stores a run and reads it back byte for byte (files, notebook, patch)', async () => {
    const store = client();
    const notebook = new Uint8Array([0x7b, 0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x7d]);
    const patch = 'diff --git a/x b/x\n+é ✓ \r\n\\ No newline\n';
    const input = makeRun({
      notebook: 'dossier/é ✓.ipynb',
      notebookBytes: notebook,
      manifest: MANIFEST('1.6.1'),
      project: '\ufeffname = "Demo"\r\n',
      patch,
      truncated: true,
      unsaved: true,
      note: 'a note, "quoted", with a\nnewline',
      manifestName: 'JuliaManifest-v1.11.toml',
      projectPath: { b64: Buffer.from([0x2f, 0xff, 0x2f]).toString('base64') }
    });
    let changed = 0;
    store.changed.connect(() => changed++);
    const { run, created } = await store.addRun(input);
    expect(created).toBe(true);
    expect(changed).toBe(1);
    expect(run).toMatchObject({
      snapshot_id: input.snapshot_id,
      number: 1,
      notebook_path: 'dossier/é ✓.ipynb',
      note: input.note,
      has_patch: true,
      patch_truncated: true,
      notebook_unsaved: true,
      manifest_name: 'JuliaManifest-v1.11.toml',
      manifest_sha256: input.capture.files[1].sha256,
      project_sha256: input.capture.files[0].sha256,
      git_dirty: true,
      git_sha: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'
    });

    const detail = await store.getRun(run.id);
    expect(detail.git).toEqual(input.git);
    expect(detail.kernel).toEqual(input.kernel);
    expect(detail.notebook).toEqual({
      path: input.notebook.path,
      sha256: input.notebook.sha256,
      size: notebook.length,
      unsaved_changes: true,
      stored: true
    });
    expect(detail.capture).toEqual({
      ...input.capture,
      files: input.capture.files.map(({ base64, ...f }) => f)
    });
    expect(detail.files.map(f => [f.role, f.name, f.sha256])).toEqual([
      ['project', 'Project.toml', input.capture.files[0].sha256],
      ['manifest', 'JuliaManifest-v1.11.toml', input.capture.files[1].sha256]
    ]);

    // A fresh client (nothing cached) reads the exact bytes.
    const other = client();
    for (const file of input.capture.files) {
      const bytes = await other.getBlob(file.sha256);
      expect(Buffer.from(bytes!).toString('base64')).toBe(file.base64);
    }
    expect(Array.from((await other.getBlob(input.notebook.sha256))!)).toEqual(
      Array.from(notebook)
    );
    expect(await other.getText(input.capture.files[0].sha256)).toBe(
      '\ufeffname = "Demo"\r\n'
    );
    expect(await other.getBlob(sha('never stored'))).toBeNull();
    expect((await other.listRuns()).map(r => r.id)).toContain(run.id);
  });

  it('keeps a snapshot received by two clients once', async () => {
    const a = client();
    const b = client();
    const input = makeRun({ notebook: 'twice.ipynb' });
    const [first, second] = await Promise.all([
      a.addRun(input),
      b.addRun(input)
    ]);
    expect([first.created, second.created].sort()).toEqual([false, true]);
    expect(first.run.id).toBe(second.run.id);
    const listed = (await client().listRuns()).filter(
      r => r.snapshot_id === input.snapshot_id
    );
    expect(listed).toHaveLength(1);
  });

  it('uploads only the blobs the server lacks', async () => {
    const api = new CountingAPI(suite.server.settings);
    const store = client(api);
    const project = `name = "Only${Date.now()}"\n`;
    const manifest = MANIFEST('1.7.0', `# ${Date.now()}\n`);
    const first = makeRun({
      notebook: 'counted.ipynb',
      project,
      manifest,
      patch: `+${Date.now()}\n`,
      notebookBytes: new TextEncoder().encode(`{"n": ${Date.now()}}`)
    });
    await store.addRun(first);
    expect(api.puts).toHaveLength(4); // project, manifest, notebook, patch
    api.puts = [];
    const second = makeRun({
      notebook: 'counted.ipynb',
      project,
      manifest,
      notebookBytes: new TextEncoder().encode(`{"n": -${Date.now()}}`)
    });
    const { run } = await store.addRun(second);
    expect(api.puts).toEqual([second.notebook.sha256]); // only the new notebook
    expect(run.number).toBe(2);

    // The server says what it lacks (409 missing_blobs): uploaded, posted again.
    api.puts = [];
    api.hideMissing = true;
    const third = makeRun({
      notebook: 'counted.ipynb',
      project,
      manifest,
      notebookBytes: new TextEncoder().encode(`{"n": "${Date.now()}"}`)
    });
    const again = await store.addRun(third);
    expect(again.created).toBe(true);
    expect(api.puts).toEqual([third.notebook.sha256]);
  });

  it('refuses a run whose bytes do not match, storing nothing', async () => {
    const api = new CountingAPI(suite.server.settings);
    const store = client(api);
    const input = makeRun({ notebook: 'refused.ipynb' });
    input.capture.files[0].base64 =
      Buffer.from('other bytes').toString('base64');
    await expect(store.addRun(input)).rejects.toBeInstanceOf(RunInputError);
    expect(api.puts).toHaveLength(0);
    expect(
      (await store.listRuns()).some(r => r.snapshot_id === input.snapshot_id)
    ).toBe(false);
    expect(store.pendingCount).toBe(0);
  });

  it('edits a note; another client sees it after a refresh', async () => {
    const a = client();
    const b = client();
    const { run } = await a.addRun(makeRun({ notebook: 'noted.ipynb' }));
    await b.listRuns();
    let changed = 0;
    a.changed.connect(() => changed++);
    const edited = await a.updateNote(run.id, 'revised ✓');
    expect(edited.note).toBe('revised ✓');
    expect(changed).toBe(1);
    expect((await a.listRuns()).find(r => r.id === run.id)!.note).toBe(
      'revised ✓'
    );
    expect(await b.refresh()).toBe(true);
    expect((await b.listRuns()).find(r => r.id === run.id)!.note).toBe(
      'revised ✓'
    );
    expect(await b.refresh()).toBe(false);
    await expect(a.updateNote(987654, 'x')).rejects.toBeInstanceOf(
      RunNotFoundError
    );
  });

  it('deletes a run and the blobs only it referenced', async () => {
    const api = new DearDiaryAPI(suite.server.settings);
    const store = client(api);
    const shared = `name = "Shared${Date.now()}"\n`;
    const keep = await store.addRun(
      makeRun({ notebook: 'del.ipynb', project: shared })
    );
    const goner = makeRun({
      notebook: 'del.ipynb',
      project: shared,
      manifest: `# only mine ${Date.now()}\n`
    });
    const { run } = await store.addRun(goner);
    const [projectSha, manifestSha] = goner.capture.files.map(f => f.sha256);
    expect(await store.getBlob(manifestSha)).not.toBeNull();
    await store.deleteRun(run.id);
    const ids = (await store.listRuns()).map(r => r.id);
    expect(ids).not.toContain(run.id);
    expect(ids).toContain(keep.run.id);
    expect(await api.getBlob(manifestSha)).toBeNull();
    expect(await api.getBlob(projectSha)).not.toBeNull();
    expect(await store.getBlob(manifestSha)).toBeNull(); // not from the cache
    await expect(store.getRun(run.id)).rejects.toBeInstanceOf(RunNotFoundError);
    // Another client deleted it first: resolves for a run this one listed.
    const other = client();
    const { run: second } = await store.addRun(
      makeRun({ notebook: 'd2.ipynb' })
    );
    await other.listRuns();
    await store.deleteRun(second.id);
    await expect(other.deleteRun(second.id)).resolves.toBeUndefined();
    expect((await other.listRuns()).map(r => r.id)).not.toContain(second.id);
  });

  it("follows another client's runs with index deltas, newest first", async () => {
    const a = client();
    const b = client();
    const before = await a.listRuns();
    const added: IRunSummary[] = [];
    for (let i = 0; i < 3; i++) {
      added.push((await b.addRun(makeRun({ notebook: 'delta.ipynb' }))).run);
    }
    let changed = 0;
    a.changed.connect(() => changed++);
    expect(await a.refresh()).toBe(true);
    expect(changed).toBe(1);
    const after = await a.listRuns();
    expect(after).toHaveLength(before.length + 3);
    expect(after.slice(0, 3).map(r => r.id)).toEqual(
      added.map(r => r.id).reverse()
    );
    expect(after).toEqual(await client().listRuns());
    expect(a.version).toBe((await b.listRuns()) && b.version);
  });

  it('shows its own run without asking for a delta when nothing else changed', async () => {
    const api = new CountingAPI(suite.server.settings);
    const store = client(api);
    await store.listRuns();
    const { run } = await store.addRun(makeRun({ notebook: 'own.ipynb' }));
    expect(api.indexCalls).toEqual([]);
    expect((await store.listRuns())[0]).toEqual(run);
    expect(await store.listRuns()).toEqual(await client().listRuns());

    // Another client added a run meanwhile: a delta brings both.
    const other = await client().addRun(makeRun({ notebook: 'own.ipynb' }));
    const before = store.version;
    const mine = await store.addRun(makeRun({ notebook: 'own.ipynb' }));
    expect(api.indexCalls).toEqual([before]);
    expect((await store.listRuns()).slice(0, 2).map(r => r.id)).toEqual([
      mine.run.id,
      other.run.id
    ]);

    // With the index loaded: a known manifest needs no delta, a new one does (its
    // packages come with it).
    await store.loadIndex();
    api.indexCalls = [];
    await store.addRun(makeRun({ notebook: 'own.ipynb' }));
    expect(api.indexCalls).toEqual([]);
    const fresh = makeRun({
      notebook: 'own.ipynb',
      manifest: MANIFEST('1.6.5', `# own ${Date.now()}\n`)
    });
    const added = await store.addRun(fresh);
    expect(api.indexCalls).toHaveLength(1);
    const versions = await store.packageVersions(['DataFrames']);
    expect(versions.get(added.run.manifest_sha256!)!.get('dataframes')).toEqual(
      ['1.6.5']
    );
    expect(await store.listRuns()).toEqual(await client().listRuns());
  });

  it('records while the index downloads, and the index then agrees with the list', async () => {
    const tag = `${Date.now()}`;
    // A store exists (this test may run alone): there is an image to hold.
    await client().addRun(makeRun({ notebook: `dl${tag}-first.ipynb` }));
    const api = new CountingAPI(suite.server.settings);
    const store = client(api);
    await store.listRuns();
    let release = () => {};
    api.holdImage = new Promise(resolve => (release = resolve));
    const loading = store
      .loadIndex()
      .then(() => store.packageVersions(['DataFrames']));
    await new Promise(resolve => setTimeout(resolve, 200)); // the image is held
    // A click and another client's run meanwhile: not held up by the index.
    const mine = await store.addRun(
      makeRun({
        notebook: `dl${tag}.ipynb`,
        manifest: MANIFEST('1.6.7', `# ${tag}m\n`)
      })
    );
    const theirs = await client().addRun(
      makeRun({
        notebook: `dl${tag}.ipynb`,
        manifest: MANIFEST('1.6.8', `# ${tag}t\n`)
      })
    );
    expect((await store.listRuns())[0].id).toBe(mine.run.id);
    release();
    const versions = await loading;
    expect(versions.get(mine.run.manifest_sha256!)!.get('dataframes')).toEqual([
      '1.6.7'
    ]);
    expect(
      versions.get(theirs.run.manifest_sha256!)!.get('dataframes')
    ).toEqual(['1.6.8']);
    expect(await store.listRuns()).toEqual(await client().listRuns());
    expect(await store.refresh()).toBe(false);
  });

  it('answers package filters from the index, also after new runs', async () => {
    const store = client();
    const tag = `${Date.now()}`;
    const old = await store.addRun(
      makeRun({
        notebook: `pk${tag}.ipynb`,
        manifest: MANIFEST('1.6.1', `# ${tag}a\n`)
      })
    );
    const newer = await store.addRun(
      makeRun({
        notebook: `pk${tag}.ipynb`,
        manifest: MANIFEST('1.7.0', `# ${tag}b\n`)
      })
    );
    const filter = async (text: string) => {
      const query = parseQuery(`nb:pk${tag} ${text}`);
      const versions = await store.packageVersions(
        query.packages.map(p => p.key)
      );
      return (await store.listRuns())
        .filter(r =>
          matchRun(
            r,
            query,
            r.manifest_sha256 ? versions.get(r.manifest_sha256) : undefined
          )
        )
        .map(r => r.id);
    };
    expect(await filter('DataFrames@1.6')).toEqual([old.run.id]);
    expect(await filter('dataframes@1')).toEqual([newer.run.id, old.run.id]);
    expect(await filter('DataFrames@1.60')).toEqual([]);
    expect(await filter('pkg:Dates')).toEqual([newer.run.id, old.run.id]);
    expect(await filter('Dates@1')).toEqual([]); // no version recorded
    expect(await filter('pkg:Plots')).toEqual([]);
    // A run added after the index was loaded: its packages come with the delta.
    const third = await store.addRun(
      makeRun({
        notebook: `pk${tag}.ipynb`,
        manifest: MANIFEST('1.6.9', `# ${tag}c\n`)
      })
    );
    expect(await filter('DataFrames@1.6')).toEqual([third.run.id, old.run.id]);
  });
});

describe('the index', () => {
  const suite = useServer();

  function client(api = new DearDiaryAPI(suite.server.settings)): RunStore {
    return new RunStore({
      api,
      sqljs: { init: initSqlJs },
      outbox: new MemoryOutbox(),
      legacyPending: null,
      locks: null
    });
  }

  it('holds the packages of the manifests runs name, and no runs', async () => {
    const store = client();
    const runs = [];
    for (const df of ['1.6.1', '1.6.2', '1.6.3']) {
      runs.push(
        (await store.addRun(makeRun({ manifest: MANIFEST(df, `# ${df}\n`) })))
          .run
      );
    }
    await store.addRun(makeRun({ manifest: MANIFEST('1.6.1', '# 1.6.1\n') }));
    await store.addRun(makeRun({ noManifest: true }));
    await store.deleteRun(runs[2].id); // its manifest's only run
    const answer = await new DearDiaryAPI(suite.server.settings).index();
    if (answer.kind !== 'image') {
      throw new Error('expected an image');
    }
    const SQL = await initSqlJs();
    const db = new SQL.Database(answer.bytes);
    const column = (sql: string) =>
      (db.exec(sql)[0]?.values ?? []).map(row => row[0]);
    expect(
      column("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
    ).toEqual(['manifest', 'meta', 'package']);
    expect(column('SELECT sha256 FROM manifest ORDER BY 1')).toEqual(
      [runs[0].manifest_sha256, runs[1].manifest_sha256].sort()
    );
    expect(column("SELECT value FROM meta WHERE key = 'version'")).toEqual([
      answer.version
    ]);
    db.close();
    // Before its index is loaded a tab asks the server; then the index answers the same.
    const api = new CountingAPI(suite.server.settings);
    const fresh = client(api);
    const names = ['dataFrames', 'CSV', 'Dates', 'Nope'];
    const versions = await fresh.packageVersions(names);
    expect(api.packageCalls).toBe(1);
    expect([...versions.keys()].sort()).toEqual(
      [runs[0].manifest_sha256, runs[1].manifest_sha256].sort()
    );
    expect(versions.get(runs[1].manifest_sha256!)).toEqual(
      new Map([
        ['dataframes', ['1.6.2']],
        ['csv', ['0.10.14']],
        ['dates', [null]]
      ])
    );
    await fresh.loadIndex();
    expect(await fresh.packageVersions(names)).toEqual(versions);
    expect(api.packageCalls).toBe(1);
  });

  it('reads the list again when the server sends an image for it', async () => {
    const api = new CountingAPI(suite.server.settings);
    const store = client(api);
    await store.listRuns();
    const mine = await store.addRun(
      makeRun({ manifest: MANIFEST('1.7.1', '# mine\n') })
    );
    await store.loadIndex();
    const theirs = await client().addRun(
      makeRun({ manifest: MANIFEST('1.7.2', '# theirs\n') })
    );
    api.foreign = true; // the list is of a store the server no longer has
    expect(await store.refresh()).toBe(true);
    api.foreign = false;
    expect(await store.listRuns()).toEqual(await client().listRuns());
    expect((await store.listRuns())[0].id).toBe(theirs.run.id);
    api.indexCalls = [];
    const versions = await store.packageVersions(['DataFrames']);
    expect(api.indexCalls).toEqual([]); // the image came with the refresh
    expect(versions.get(mine.run.manifest_sha256!)!.get('dataframes')).toEqual([
      '1.7.1'
    ]);
    expect(
      versions.get(theirs.run.manifest_sha256!)!.get('dataframes')
    ).toEqual(['1.7.2']);
  });
});

describe('RunStore on a store the server cannot open', () => {
  const suite = useServer();
  const store = () =>
    path.join(suite.server.root, '.deardiary', 'deardiary.sqlite');

  it('says why, and moves it aside only when the user agrees', async () => {
    const garbage = Buffer.from('not a database at all\n');
    fs.mkdirSync(path.dirname(store()), { recursive: true });
    fs.writeFileSync(store(), garbage);
    const make = (answer: boolean, asked: StoreOpenError[]) =>
      new RunStore({
        api: new DearDiaryAPI(suite.server.settings),
        sqljs: { init: initSqlJs },
        outbox: new MemoryOutbox(),
        legacyPending: null,
        locks: null,
        confirmStartFresh: async error => {
          asked.push(error);
          return answer;
        }
      });
    const refused: StoreOpenError[] = [];
    const leftAlone = make(false, refused);
    const error = await leftAlone.listRuns().then(
      () => null,
      e => e
    );
    expect(error).toBeInstanceOf(StoreOpenError);
    expect(error.reason).toBe('not_sqlite');
    expect(error.storeEtag).toBe(sha(garbage));
    expect(error.path).toBe('.deardiary/deardiary.sqlite');
    expect(refused).toHaveLength(1);
    // A run recorded meanwhile is kept (the store left alone), and says so.
    const waiting = makeRun({ notebook: 'waited.ipynb' });
    const kept = await leftAlone.addRun(waiting).then(
      () => null,
      e => e
    );
    expect(kept).toBeInstanceOf(StoreSaveError);
    expect(kept.message).toMatch(/kept in this tab .*\(1 run waiting\)/);
    expect(refused).toHaveLength(2);
    expect(leftAlone.pendingCount).toBe(1);
    expect(fs.readFileSync(store())).toEqual(garbage); // untouched

    const asked: StoreOpenError[] = [];
    const agreed = make(true, asked);
    const input = makeRun({ notebook: 'fresh.ipynb' });
    const { run, created } = await agreed.addRun(input);
    expect(created).toBe(true);
    expect(asked).toHaveLength(1);
    expect(agreed.pendingCount).toBe(0);
    expect((await agreed.listRuns()).map(r => r.id)).toEqual([run.id]);
    const aside = fs
      .readdirSync(path.dirname(store()))
      .filter(name => name.startsWith('deardiary.sqlite.broken-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(path.dirname(store()), aside[0]))).toEqual(
      garbage
    );
    // The run the other tab kept goes once the store is usable again.
    expect(await leftAlone.flush()).toBe(1);
    expect(leftAlone.pendingCount).toBe(0);
    expect(await agreed.refresh()).toBe(true);
    expect((await agreed.listRuns()).map(r => r.snapshot_id).sort()).toEqual(
      [input.snapshot_id, waiting.snapshot_id].sort()
    );
  });
});
