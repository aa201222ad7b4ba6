/**
 * The order of the run list is one rule: RUN_ORDER (src/store/runindex.ts) is the ORDER
 * BY of jupyterlab_deardiary/list_runs.sql, and the list kept in memory (compareRuns,
 * applyDelta) is in the order sql.js gives for it on the index.
 */
import * as fs from 'fs';
import * as path from 'path';
import { applyDelta } from '../store/client';
import { compareRuns, RUN_ORDER, RunIndex } from '../store/runindex';
import type { IRunSummary } from '../store/types';
import { FakeStoreAPI, makeRun, SQLJS, toColumns } from './helpers/sqljs';

/** The statement without comments, its words separated by single spaces. */
function statement(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Runs with many equal times (ties go by id). */
async function seeded(api: FakeStoreAPI, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const run = makeRun({
      created_at: `2025-01-0${1 + (i % 3)}T00:00:00.000Z`,
      notebook: `nb${i % 4}.ipynb`
    });
    const record = {
      ...run,
      capture: { ...run.capture, files: [] },
      git: { state: 'unknown' as const, error_code: 'x', message: 'x' },
      notebook: { ...run.notebook, stored: false, bytes: undefined }
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

  it('is the same in memory as in sql.js, ties by id', async () => {
    const api = new FakeStoreAPI();
    await seeded(api, 30);
    const image = await api.index();
    if (image.kind !== 'image') {
      throw new Error('expected an image');
    }
    const index = await RunIndex.open(image.bytes, image.version, SQLJS);
    const fromSql = index.runs().map(r => r.id);
    index.close();
    const list = (await api.listRuns())!.runs;
    const shuffled = [...list].reverse();
    expect(shuffled.sort(compareRuns).map(r => r.id)).toEqual(fromSql);
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

  it('applies the same delta to the index', async () => {
    const api = new FakeStoreAPI();
    await seeded(api, 6);
    const image = await api.index();
    if (image.kind !== 'image') {
      throw new Error('expected an image');
    }
    const index = await RunIndex.open(image.bytes, image.version, SQLJS);
    await seeded(api, 3);
    const first = (await api.listRuns())!.runs[0];
    await api.deleteRun(first.id);
    const answer = await api.index(index.version);
    if (answer.kind !== 'delta') {
      throw new Error('expected a delta');
    }
    index.apply(answer.delta);
    const expected: IRunSummary[] = (await api.listRuns())!.runs;
    expect(index.runs()).toEqual(expected);
    expect(index.version).toBe(api.version);
    expect(toColumns(expected).id).toEqual(expected.map(r => r.id));
    index.close();
  });
});
