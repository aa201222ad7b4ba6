/**
 * Benchmark: growth of the store file (real sql.js, Node build) as runs are added
 * through RunStore, the server replaced by an in-memory ETag/If-Match fake.
 *
 * Prints bytes per run for 1,000 runs of one unchanged environment (~200 KB manifest):
 * notebook bytes not kept, kept and identical, kept and changed every run; and for 100
 * runs of distinct environments. Plus the time of one addRun at the end of each series
 * (it exports and uploads the whole file).
 */
import initSqlJs from 'sql.js';
import type { IStoreSnapshot, IStoreWritten } from '../src/server/api';
import type { ISqlJsLoader } from '../src/store/sqljs';
import { IStoreAPI, RunStore } from '../src/store/store';
import { makeRun } from '../src/__tests__/helpers/sqljs';
import { manifest } from './manifest';
import { percentile, report } from './stats';

const SQLJS: ISqlJsLoader = { init: initSqlJs };

/** The store endpoint in memory (ETag: a counter, to keep hashing out of the timings). */
class MemoryStore implements IStoreAPI {
  bytes: Uint8Array | null = null;
  version = 0;

  async readStore(): Promise<IStoreSnapshot | null> {
    return this.bytes
      ? { bytes: this.bytes, etag: String(this.version) }
      : null;
  }

  async writeStore(bytes: Uint8Array): Promise<IStoreWritten> {
    this.bytes = bytes;
    this.version++;
    return { etag: String(this.version), size: bytes.length };
  }
}

/** A notebook of about `size` bytes; `variant` changes one output line. */
function notebook(size: number, variant: number): Uint8Array {
  const cell = (i: number) =>
    JSON.stringify({
      cell_type: 'code',
      execution_count: i,
      source: [`x${i} = rand(100)\n`, `sum(x${i})`],
      outputs: [{ output_type: 'stream', text: [`${Math.sin(i)}\n`] }]
    });
  const cells: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const c = i === 0 ? cell(variant) : cell(i);
    cells.push(c);
    length += c.length + 1;
  }
  return new TextEncoder().encode(`{"cells": [${cells.join(',')}]}`);
}

interface ISeries {
  title: string;
  runs: number;
  manifest: (i: number) => string;
  notebook: (i: number) => Uint8Array | null;
}

async function measure(series: ISeries): Promise<Array<[string, string]>> {
  const api = new MemoryStore();
  const store = new RunStore({
    api,
    sqljs: SQLJS,
    locks: null,
    pendingStorage: null,
    keepAside: async () => ''
  });
  const start = new Date('2024-01-01T00:00:00Z').getTime();
  let afterFirst = 0;
  const times: number[] = [];
  for (let i = 0; i < series.runs; i++) {
    const input = makeRun({
      manifest: series.manifest(i),
      notebookBytes: series.notebook(i),
      created_at: new Date(start + i * 60000).toISOString()
    });
    const t0 = performance.now();
    await store.addRun(input);
    times.push(performance.now() - t0);
    if (i === 0) {
      afterFirst = api.bytes!.length;
    }
  }
  const total = api.bytes!.length;
  const perRun = (total - afterFirst) / (series.runs - 1);
  const last = times.slice(-Math.ceil(series.runs / 10));
  store.dispose();
  return [
    [`${series.title}: runs`, String(series.runs)],
    [`${series.title}: file after run 1`, kb(afterFirst)],
    [`${series.title}: file after all`, kb(total)],
    [`${series.title}: bytes per run`, `${Math.round(perRun)} B`],
    [
      `${series.title}: addRun, last 10% (median/p95)`,
      `${percentile(last, 50).toFixed(1)} / ${percentile(last, 95).toFixed(1)} ms`
    ]
  ];
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

it('store growth', async () => {
  const fixed = manifest(400);
  const nb = notebook(30000, 0);
  const rows: Array<[string, string]> = [
    ['manifest size', kb(fixed.length)],
    ['notebook size', kb(nb.length)]
  ];
  const series: ISeries[] = [
    {
      title: 'unchanged env, notebook not kept',
      runs: 1000,
      manifest: () => fixed,
      notebook: () => null
    },
    {
      title: 'unchanged env, notebook kept, identical',
      runs: 1000,
      manifest: () => fixed,
      notebook: () => nb
    },
    {
      title: 'unchanged env, notebook kept, changed every run',
      runs: 1000,
      manifest: () => fixed,
      notebook: i => notebook(30000, i + 1)
    },
    {
      title: '100 distinct envs, notebook not kept',
      runs: 100,
      manifest: () => manifest(400),
      notebook: () => null
    }
  ];
  for (const s of series) {
    rows.push(...(await measure(s)));
  }
  report('Store growth (sql.js, bytes of the SQLite file)', rows);
});
