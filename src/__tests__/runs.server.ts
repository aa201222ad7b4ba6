/**
 * GET /deardiary/runs against a real jupyter_server: a store written by RunStore (the
 * real schema, through the real store endpoint) is listed by the server row for row as
 * RunStore.listRuns lists it.
 */
import * as fs from 'fs';
import * as path from 'path';
import initSqlJs from 'sql.js';
import { DearDiaryAPI } from '../server/api';
import { ServerError } from '../server/request';
import { SCHEMA_VERSION } from '../store/schema';
import { RunStore } from '../store/store';
import { makeRun } from './helpers/sqljs';
import { useServer } from './helpers/server';

describe('GET /deardiary/runs against a real server', () => {
  const suite = useServer();
  let api: DearDiaryAPI;
  beforeAll(() => {
    api = new DearDiaryAPI(suite.server.settings);
  });

  function runStore(): RunStore {
    return new RunStore({
      api,
      keepAside: async () => 'kept',
      sqljs: { init: initSqlJs }, // the Node build
      pendingStorage: null,
      locks: null,
      backoffMs: 0
    });
  }

  it('lists nothing before there is a store', async () => {
    expect(await api.listRuns()).toEqual({
      runs: [],
      etag: null,
      schema_version: SCHEMA_VERSION
    });
  });

  it("lists the store's runs as RunStore.listRuns does, with its ETag", async () => {
    const store = runStore();
    const first = makeRun({
      notebook: 'a.ipynb',
      created_at: '2024-03-01T10:00:00.000Z'
    });
    const inputs = [
      first,
      makeRun({
        notebook: 'dossier/é ✓.ipynb',
        created_at: '2024-03-02T10:00:00.000Z',
        parent: first.snapshot_id,
        note: 'a note, "quoted", with a\nnewline and ✓',
        patch: 'diff --git a/x b/x\n',
        truncated: true,
        unsaved: true,
        manifestName: 'JuliaManifest-v1.11.toml',
        projectPath: { b64: Buffer.from([0x2f, 0xff, 0x2f]).toString('base64') }
      }),
      makeRun({
        notebook: 'a.ipynb',
        created_at: '2024-03-02T10:00:00.000Z', // the same time: higher id first
        noManifest: true,
        notebookBytes: null
      }),
      makeRun({ notebook: 'b.ipynb', created_at: '2023-12-31T23:59:59.999Z' })
    ];
    inputs[2].git = { state: 'unknown', error_code: 'no_git', message: 'none' };
    inputs[3].capture.project = null;
    // Enough runs of one notebook and environment for the server to send the fields
    // that repeat as values and indexes.
    for (let i = 0; i < 16; i++) {
      inputs.push(
        makeRun({
          notebook: 'c.ipynb',
          created_at: `2024-02-${String(10 + i).padStart(2, '0')}T00:00:00.000Z`,
          unsaved: i % 2 === 0
        })
      );
    }
    for (const input of inputs) {
      await store.addRun(input);
    }
    await store.updateNote((await store.listRuns())[3].id, 'edited later');

    const expected = await store.listRuns();
    const listed = await api.listRuns();
    const answer = await fetch(
      `${suite.server.baseUrl}deardiary/runs?token=${suite.server.token}`
    ).then(r => r.json());
    expect(answer.columns.notebook_path).toHaveProperty('index');
    expect(Array.isArray(answer.columns.snapshot_id)).toBe(true);
    expect(listed.schema_version).toBe(SCHEMA_VERSION);
    expect(listed.etag).toBe(store.etag);
    expect(listed.runs).toStrictEqual(expected);
    // the rows cover what the fields can be
    expect(listed.runs.map(r => r.git_dirty)).toContain(null);
    expect(listed.runs.map(r => r.manifest_name)).toContain(null);
    expect(listed.runs.map(r => r.project_path)).toContain(null);
    expect(listed.runs.some(r => r.has_patch && r.patch_truncated)).toBe(true);
    expect(listed.runs.some(r => r.parent_id !== null)).toBe(true);
    // A list held is revalidated without a body; another version is sent again.
    expect(await api.listRunsIfChanged(listed.etag!)).toBeNull();
    const again = await api.listRunsIfChanged('0'.repeat(64));
    expect(again?.runs).toStrictEqual(expected);
    store.dispose();
  });

  it('refuses a store of another schema, which the browser then loads itself', async () => {
    const file = path.join(suite.server.root, '.deardiary', 'deardiary.sqlite');
    const SQL = await initSqlJs();
    const db = new SQL.Database(fs.readFileSync(file));
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    fs.writeFileSync(file, db.export());
    db.close();
    let error: unknown;
    try {
      await api.listRuns();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).status).toBe(409);
    expect((error as ServerError).code).toBe('schema_mismatch');
  });
});
