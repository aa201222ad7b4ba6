/**
 * src/share/bundle.ts against a real jupyter_server with the real server extension:
 * a bundle out of the store and back in (duplicates recognised), the export into a
 * DearDiary.jl store file, and the server's refusals as ServerErrors.
 */
import * as fs from 'fs';
import * as path from 'path';
import initSqlJs from 'sql.js';
import { DearDiaryAPI } from '../server/api';
import { ServerError } from '../server/request';
import { exportBundle, exportToDearDiary, importBundle } from '../share/bundle';
import { RunStore } from '../store/client';
import { MemoryOutbox } from '../store/outbox';
import { makeRun } from './helpers/sqljs';
import { useServer } from './helpers/server';

describe('bundles and the DearDiary export against a real server', () => {
  const suite = useServer();

  const store = () =>
    new RunStore({
      api: new DearDiaryAPI(suite.server.settings),
      sqljs: { init: initSqlJs },
      outbox: new MemoryOutbox(),
      legacyPending: null,
      locks: null
    });

  it('exports runs, imports them back, and exports them to DearDiary', async () => {
    const runs = store();
    const inputs = [
      makeRun({ notebook: 'a.ipynb', note: 'one' }),
      makeRun({ notebook: 'b.ipynb', noManifest: true })
    ];
    const ids = [];
    for (const input of inputs) {
      ids.push((await runs.addRun(input)).run.id);
    }
    const settings = suite.server.settings;

    const bundle = await exportBundle(ids, settings);
    expect(bundle.filename).toMatch(/^deardiary-runs-\d{8}T\d{6}Z\.zip$/);
    expect(bundle.runs).toBe(2);
    const bytes = new Uint8Array(await bundle.data.arrayBuffer());
    expect(String.fromCharCode(bytes[0], bytes[1])).toBe('PK');

    for (const id of ids) {
      await runs.deleteRun(id);
    }
    const report = await importBundle(bundle.data, settings);
    expect(report.added.map(r => r.snapshot_id)).toEqual(
      inputs.map(i => i.snapshot_id)
    );
    expect(report.refused).toEqual([]);
    const again = await importBundle(bundle.data, settings);
    expect(again.added).toEqual([]);
    expect(again.already.map(r => r.snapshot_id).sort()).toEqual(
      inputs.map(i => i.snapshot_id).sort()
    );

    const dd = await exportToDearDiary('share/dd.db', null, 'v0.9.1', settings);
    expect(dd.added.map(r => r.snapshot_id)).toEqual([inputs[0].snapshot_id]);
    expect(dd.refused.map(r => [r.snapshot_id, r.message])).toEqual([
      [inputs[1].snapshot_id, expect.stringContaining('no Manifest.toml')]
    ]);
    const head = fs.readFileSync(
      path.join(suite.server.root, 'share', 'dd.db')
    );
    expect(head.subarray(8, 12).toString()).toBe('DUCK');
  }, 60000);

  it('turns refusals into ServerErrors with the server’s message', async () => {
    const settings = suite.server.settings;
    await expect(exportBundle([], settings)).rejects.toThrow(/'ids' is empty/);
    const bad = importBundle(new Blob(['not a zip']), settings);
    await expect(bad).rejects.toBeInstanceOf(ServerError);
    await expect(bad).rejects.toMatchObject({
      status: 400,
      code: 'bad_bundle'
    });
    await expect(
      exportToDearDiary('../outside.db', null, 'v0.9.1', settings)
    ).rejects.toMatchObject({ status: 400, code: 'bad_path' });
  }, 30000);
});
