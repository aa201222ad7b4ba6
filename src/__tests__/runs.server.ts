/**
 * GET /deardiary/runs against a real jupyter_server: the runs by name (IRunSummary's
 * fields), newest first, a version for 304, `?limit=` with the total.
 */
import { DearDiaryAPI } from '../server/api';
import { makeRun } from './helpers/sqljs';
import { useServer } from './helpers/server';
import initSqlJs from 'sql.js';
import { RunStore } from '../store/client';
import { MemoryOutbox } from '../store/outbox';

describe('GET /deardiary/runs against a real server', () => {
  const suite = useServer();
  let api: DearDiaryAPI;
  beforeAll(() => {
    api = new DearDiaryAPI(suite.server.settings);
  });

  it('lists nothing before there is a store', async () => {
    const list = await api.listRuns();
    expect(list!.runs).toEqual([]);
    expect(list!.total).toBe(0);
  });

  it('lists the runs as they were added, newest first, with a version for 304', async () => {
    const store = new RunStore({
      api,
      sqljs: { init: initSqlJs },
      outbox: new MemoryOutbox(),
      legacyPending: null,
      locks: null
    });
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
        created_at: '2024-03-02T10:00:00.000Z', // the same time: the id decides
        noManifest: true,
        notebookBytes: null
      })
    ];
    const added = [];
    for (const input of inputs) {
      added.push((await store.addRun(input)).run);
    }
    const list = (await api.listRuns())!;
    expect(list.runs).toEqual([added[2], added[1], added[0]]);
    expect(list.total).toBe(3);
    expect(list.runs[1].parent_id).toBe(added[0].id);
    expect(list.runs[1].project_path).toBe('/\ufffd/');
    expect(list.runs[0]).toMatchObject({
      has_manifest: false,
      manifest_sha256: null,
      number: 2
    });
    for (const run of list.runs) {
      const detail = await api.getRun(run.id);
      expect(
        Object.fromEntries(Object.keys(run).map(k => [k, (detail as any)[k]]))
      ).toEqual(run);
    }

    // A notebook whose bytes were not kept: its facts only.
    const bare = await api.getRun(added[2].id);
    expect(bare.notebook.stored).toBe(false);
    expect(bare.notebook.sha256).toBe(inputs[2].notebook.sha256);
    expect((await api.getRun(added[0].id)).notebook.stored).toBe(true);

    expect(list.version).toMatch(/^[0-9a-f]{16}\.\d+$/);
    expect(await api.listRuns({ ifNoneMatch: list.version })).toBeNull();
    const newest = (await api.listRuns({ limit: 1 }))!;
    expect(newest.runs).toEqual([added[2]]);
    expect(newest.total).toBe(3);

    await store.updateNote(added[0].id, 'edited');
    const after = (await api.listRuns({ ifNoneMatch: list.version }))!;
    expect(after.version).not.toBe(list.version);
    expect(after.runs[2].note).toBe('edited');
  });
});
