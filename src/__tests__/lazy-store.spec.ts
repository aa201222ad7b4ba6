/**
 * LazyRunStore.listRuns: the server's run list first, the store in the background, and
 * the old path (the store first) whenever the server cannot list the runs.
 */
import { PromiseDelegate } from '@lumino/coreutils';
import type { IRunList } from '../server/api';
import { ServerError } from '../server/request';
import { LazyRunStore } from '../store/lazy';
import { SCHEMA_VERSION } from '../store/schema';
import type { IPendingStorage, RunStore } from '../store/store';
import type { IDearDiaryServer } from '../tokens';
import { FakeStoreAPI, makeRun, makeStore } from './helpers/sqljs';

/** What the server would list for the store `api` holds (read with a RunStore). */
async function serverList(api: FakeStoreAPI): Promise<IRunList> {
  const reader = makeStore(new FakeStoreAPI(api.bytes));
  const runs = await reader.listRuns();
  reader.dispose();
  return { runs, etag: api.etag, schema_version: SCHEMA_VERSION };
}

/** A store file with `n` runs. */
async function storeWith(n: number): Promise<FakeStoreAPI> {
  const api = new FakeStoreAPI();
  const writer = makeStore(api);
  for (let i = 0; i < n; i++) {
    await writer.addRun(makeRun({ note: `run ${i}` }));
  }
  writer.dispose();
  api.reads = 0;
  return api;
}

interface ISetup {
  lazy: LazyRunStore;
  changed: jest.Mock;
  listRuns: jest.Mock;
  listRunsIfChanged: jest.Mock;
  /** Resolves with the RunStore once LazyRunStore created it. */
  created: Promise<RunStore>;
}

function setup(
  api: FakeStoreAPI,
  list: () => Promise<IRunList>,
  pendingStorage: IPendingStorage | null = null
): ISetup {
  const listRuns = jest.fn(list);
  // The server's conditional GET: null (304) while the list's ETag is the store's.
  const listRunsIfChanged = jest.fn(async (etag: string) => {
    const current = await list();
    return current.etag === etag ? null : current;
  });
  const server = {
    api: { listRuns, listRunsIfChanged }
  } as unknown as IDearDiaryServer;
  const created = new PromiseDelegate<RunStore>();
  const lazy = new LazyRunStore({
    server,
    confirmStartFresh: async () => false,
    create: async () => {
      const store = makeStore(api, { pendingStorage });
      created.resolve(store);
      return store;
    }
  });
  const changed = jest.fn();
  lazy.changed.connect(changed);
  return {
    lazy,
    changed,
    listRuns,
    listRunsIfChanged,
    created: created.promise
  };
}

/** Wait for the store that LazyRunStore loads in the background. */
async function loaded(created: Promise<RunStore>): Promise<RunStore> {
  const store = await created;
  await store.open();
  return store;
}

describe('LazyRunStore.listRuns', () => {
  it('lists the runs from the server before the store is read, then loads it', async () => {
    const api = await storeWith(3);
    const early = await serverList(api);
    let readsBefore = -1;
    const { lazy, changed, created } = setup(api, async () => {
      readsBefore = api.reads;
      return early;
    });

    expect(await lazy.listRuns()).toEqual(early.runs);
    expect(readsBefore).toBe(0); // listed before the store was downloaded
    const store = await loaded(created);
    expect(api.reads).toBe(1);
    // The same version: nothing to repaint, and the same rows.
    expect(changed).not.toHaveBeenCalled();
    expect(await lazy.listRuns()).toEqual(await store.listRuns());
    // What needs the store gets it.
    const detail = await lazy.getRun(early.runs[0].id);
    expect(detail.note).toBe(early.runs[0].note);
  });

  it('paints a prefetched list after a conditional request, and repaints a changed one', async () => {
    const api = await storeWith(2);
    const early = await serverList(api);
    let current = early;
    const { lazy, listRuns, listRunsIfChanged, created } = setup(
      api,
      async () => current
    );
    lazy.prefetch();
    lazy.prefetch(); // once
    expect(listRuns).toHaveBeenCalledTimes(1);
    expect(api.reads).toBe(0); // the list only, never the store

    expect(await lazy.listRuns()).toEqual(early.runs);
    expect(listRunsIfChanged).toHaveBeenCalledWith(early.etag);
    expect(listRuns).toHaveBeenCalledTimes(1); // no second download of the list
    await loaded(created);

    // Prefetched, then another tab writes: the sidebar gets the new list at once.
    const api2 = await storeWith(2);
    const second = setup(api2, async () => current);
    current = await serverList(api2);
    const before = current;
    second.lazy.prefetch();
    const other = makeStore(api2);
    await other.addRun(makeRun({ note: 'written meanwhile' }));
    other.dispose();
    current = await serverList(api2);
    expect(current.etag).not.toBe(before.etag);
    const runs = await second.lazy.listRuns();
    expect(runs).toHaveLength(3);
    expect(runs[0].note).toBe('written meanwhile');
    await loaded(second.created);
  });

  it('asks the server once, however many listings wait for it', async () => {
    const api = await storeWith(1);
    const early = await serverList(api);
    const { lazy, listRuns, created } = setup(api, async () => early);
    const lists = await Promise.all([lazy.listRuns(), lazy.listRuns()]);
    expect(lists).toEqual([early.runs, early.runs]);
    await loaded(created);
    await lazy.listRuns();
    expect(listRuns).toHaveBeenCalledTimes(1);
    expect(api.reads).toBe(1);
  });

  it('repaints when the loaded store is another version than the one listed', async () => {
    const api = await storeWith(2);
    const early = await serverList(api);
    // Another tab adds a run between the listing and the download.
    const other = makeStore(api);
    await other.addRun(makeRun({ note: 'from another tab' }));
    other.dispose();
    api.reads = 0;
    const { lazy, changed, created } = setup(api, async () => early);

    expect(await lazy.listRuns()).toHaveLength(2);
    await loaded(created);
    expect(changed).toHaveBeenCalledTimes(1);
    const runs = await lazy.listRuns();
    expect(runs).toHaveLength(3);
    expect(runs[0].note).toBe('from another tab');
  });

  it('repaints when the store shows runs still pending in this tab', async () => {
    const api = await storeWith(1);
    const early = await serverList(api);
    const input = makeRun({ note: 'pending' });
    const items = new Map([['pending', JSON.stringify([input])]]);
    const storage: IPendingStorage = {
      key: 'pending',
      storage: {
        getItem: k => items.get(k) ?? null,
        setItem: (k, v) => void items.set(k, v),
        removeItem: k => void items.delete(k)
      }
    };
    const { lazy, changed, created } = setup(api, async () => early, storage);

    expect(await lazy.listRuns()).toHaveLength(1);
    await loaded(created);
    expect(changed).toHaveBeenCalledTimes(1);
    const runs = await lazy.listRuns();
    expect(runs.map(r => [r.note, r.status])).toEqual([
      ['pending', 'pending'],
      ['run 0', 'recorded']
    ]);
  });

  it('lists from the store once it changed (a note here)', async () => {
    const api = await storeWith(2);
    const early = await serverList(api);
    const { lazy, changed, created } = setup(api, async () => early);
    await lazy.listRuns();
    await loaded(created);
    await lazy.updateNote(early.runs[1].id, 'edited');
    expect(changed).toHaveBeenCalledTimes(1);
    const runs = await lazy.listRuns();
    expect(runs.find(r => r.id === early.runs[1].id)?.note).toBe('edited');
  });

  it('lists nothing early when there is no store yet, and loads the empty one', async () => {
    const api = new FakeStoreAPI();
    const { lazy, changed, created } = setup(api, async () => ({
      runs: [],
      etag: null,
      schema_version: SCHEMA_VERSION
    }));
    expect(await lazy.listRuns()).toEqual([]);
    await loaded(created);
    expect(changed).not.toHaveBeenCalled();
    await lazy.addRun(makeRun());
    expect(changed).toHaveBeenCalledTimes(1);
    expect(await lazy.listRuns()).toHaveLength(1);
  });

  it.each([
    [
      'an older server (no such endpoint)',
      () =>
        Promise.reject(new ServerError('not installed', 404, 'not_installed'))
    ],
    [
      'a store of another schema',
      () => Promise.reject(new ServerError('schema 3', 409, 'schema_mismatch'))
    ],
    [
      'a server reading another schema',
      async () => ({ runs: [], etag: null, schema_version: SCHEMA_VERSION + 1 })
    ],
    [
      'a network error',
      () => Promise.reject(new ServerError('offline', 0, 'network'))
    ]
  ])('falls back to the store with %s', async (_, list) => {
    const api = await storeWith(2);
    const { lazy, changed } = setup(api, list as () => Promise<IRunList>);
    const runs = await lazy.listRuns();
    expect(api.reads).toBe(1); // the store was read first, as before
    expect(runs.map(r => r.note)).toEqual(['run 1', 'run 0']);
    expect(changed).toHaveBeenCalledTimes(1); // its load, as before
  });
});
