/**
 * The order of the run list is one rule: RUN_ORDER (src/store/runindex.ts) is the ORDER
 * BY of jupyterlab_deardiary/list_runs.sql, and the list kept in memory (compareRuns,
 * applyDelta) is in the order SQLite gives for it. The index follows the deltas too.
 */
import * as fs from 'fs';
import * as path from 'path';
import { applyDelta } from '../store/client';
import { prepare } from '../store/prepare';
import { compareRuns, RUN_ORDER, RunIndex } from '../store/runindex';
import { loadSqlJs } from '../store/sqljs';
import { FakeStoreAPI, makeRun, SQLJS } from './helpers/sqljs';

/** The statement without comments, its words separated by single spaces. */
function statement(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Runs with many equal times (ties go by id). */
async function seeded(
  api: FakeStoreAPI,
  n: number,
  at?: string
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const run = makeRun({
      created_at: at ?? `2025-01-0${1 + (i % 3)}T00:00:00.000Z`,
      notebook: `nb${i % 4}.ipynb`
    });
    const record = {
      ...run,
      capture: { ...run.capture, files: [] },
      git: { state: 'unknown' as const, error_code: 'x', message: 'x' },
      notebook: {
        ...run.notebook,
        stored: false,
        bytes: undefined,
        saved: null
      }
    };
    await api.addRun(record);
  }
}

describe('the order of the run list', () => {
  it('is the ORDER BY of the server query', () => {
    const server = statement(
      fs.readFileSync(
        path.join(
          __dirname,
          '..',
          '..',
          'jupyterlab_deardiary',
          'list_runs.sql'
        ),
        'utf-8'
      )
    );
    const orderBy = /ORDER BY (.*?)(?: LIMIT .*)?;?$/i.exec(server);
    expect(orderBy).not.toBeNull();
    expect(orderBy![1].trim()).toBe(RUN_ORDER);
    expect(RUN_ORDER).toBe('created_at DESC, id DESC');
  });

  it('is the same in memory as in SQLite, ties by id', async () => {
    const api = new FakeStoreAPI();
    await seeded(api, 30);
    const list = (await api.listRuns())!.runs;
    const SQL = await loadSqlJs(SQLJS);
    const db = new SQL.Database();
    db.exec('CREATE TABLE run (id INTEGER PRIMARY KEY, created_at TEXT)');
    for (const run of [...list].sort(() => Math.random() - 0.5)) {
      db.run('INSERT INTO run VALUES (?, ?)', [run.id, run.created_at]);
    }
    const fromSql = db
      .exec(`SELECT id FROM run ORDER BY ${RUN_ORDER}`)[0]
      .values.map(row => Number(row[0]));
    db.close();
    const shuffled = [...list].reverse();
    expect(shuffled.sort(compareRuns).map(r => r.id)).toEqual(fromSql);
    expect(list.map(r => r.id)).toEqual(fromSql);
    // Equal times exist, so the ids decide somewhere.
    expect(new Set(list.map(r => r.created_at)).size).toBe(3);
    expect(fromSql).toHaveLength(30);
  });

  it('stays in that order after a delta (new, edited, deleted runs)', async () => {
    const api = new FakeStoreAPI();
    await seeded(api, 12);
    const before = (await api.listRuns())!;
    await seeded(api, 5);
    const victim = before.runs[4].id;
    await api.deleteRun(victim);
    await api.updateNote(before.runs[7].id, 'edited');
    const answer = await api.index(before.version);
    if (answer.kind !== 'delta') {
      throw new Error('expected a delta');
    }
    const merged = applyDelta(before.runs, answer.delta);
    const truth = (await api.listRuns())!.runs;
    expect(merged).toEqual(truth);
    expect(merged.some(r => r.id === victim)).toBe(false);
    expect(merged.find(r => r.id === before.runs[7].id)!.note).toBe('edited');
    expect(merged).toHaveLength(16);
  });

  it('puts new runs newer than every listed one first; an edited newest run is replaced', async () => {
    const api = new FakeStoreAPI();
    await seeded(api, 6);
    const before = (await api.listRuns())!;
    await seeded(api, 2, '2030-01-01T00:00:00.000Z');
    const grown = await api.index(before.version);
    if (grown.kind !== 'delta') {
      throw new Error('expected a delta');
    }
    const added = applyDelta(before.runs, grown.delta);
    const truth = (await api.listRuns())!;
    expect(added).toEqual(truth.runs);
    expect(added.slice(2)).toEqual(before.runs);
    await api.updateNote(truth.runs[0].id, 'edited');
    const edited = await api.index(truth.version);
    if (edited.kind !== 'delta') {
      throw new Error('expected a delta');
    }
    const merged = applyDelta(added, edited.delta);
    expect(merged).toEqual((await api.listRuns())!.runs);
    expect(merged).toHaveLength(8);
    expect(merged[0].note).toBe('edited');
  });

  it('brings the index to the delta: the new manifests, no runs', async () => {
    const api = new FakeStoreAPI();
    const manifest = (v: string) =>
      `julia_version = "1.10.4"\nmanifest_format = "2.0"\n\n[[deps.Foo]]\nuuid = "7876af07-990d-54b4-ab0e-23690620f79a"\nversion = "${v}"\n`;
    await addRuns(api, [manifest('1.0.0'), manifest('1.0.0')]);
    const image = await api.index();
    if (image.kind !== 'image') {
      throw new Error('expected an image');
    }
    const index = await RunIndex.open(image.bytes, image.version, SQLJS);
    const shas = (await api.listRuns())!.runs.map(r => r.manifest_sha256!);
    expect(index.packageVersions(['FOO'])).toEqual(
      new Map([[shas[0], new Map([['foo', ['1.0.0']]])]])
    );
    await addRuns(api, [manifest('2.0.0')]);
    const answer = await api.index(index.version);
    if (answer.kind !== 'delta') {
      throw new Error('expected a delta');
    }
    index.apply(answer.delta);
    const newest = (await api.listRuns())!.runs[0].manifest_sha256!;
    expect(index.hasManifest(newest)).toBe(true);
    expect(index.packageVersions(['foo']).get(newest)).toEqual(
      new Map([['foo', ['2.0.0']]])
    );
    expect(index.packageVersions(['foo']).size).toBe(2);
    // A manifest the index has, sent again: its packages replaced, not doubled.
    index.apply({ ...answer.delta, version: `${answer.version}0` });
    expect(index.packageVersions(['foo']).get(newest)).toEqual(
      new Map([['foo', ['2.0.0']]])
    );
    expect(index.version).toBe(`${answer.version}0`);
    index.close();
  });
});

/** Runs with these manifests, stored with their blobs. */
async function addRuns(api: FakeStoreAPI, manifests: string[]): Promise<void> {
  for (const manifest of manifests) {
    const { record, blobs } = await prepare(makeRun({ manifest }));
    for (const blob of blobs) {
      await api.putBlob(blob.sha256, blob.bytes);
    }
    await api.addRun(record);
  }
}
