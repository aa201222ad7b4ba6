/**
 * The sidebar over the run store: package filters answered from the store's index
 * (sql.js), and the line that says how many runs wait in this browser. The store is
 * the real RunStore over the endpoints in memory (helpers/sqljs.ts).
 */
import { ServerError } from '../server/request';
import { StoreSaveError } from '../store/errors';
import { HistoryPanel } from '../widgets/panel';
import { FakeStoreAPI, makeRun, makeStore } from './helpers/sqljs';
import { trans } from './helpers/trans';

jest.mock('@jupyterlab/ui-components', () => {
  const { Panel } = jest.requireActual('@lumino/widgets');
  return { SidePanel: class extends Panel {} };
});

const manifest = (df: string, tag: string) => `julia_version = "1.10.4"
manifest_format = "2.0"

[[deps.DataFrames]]
uuid = "a93c6f00-e57d-5684-b7b6-d8193f3e46c0"
version = "${df}"

[[deps.Dates]]
uuid = "ade2ca70-3891-5945-98fb-dc099432e06a"
# ${tag}
`;

function sidebar(store: ReturnType<typeof makeStore>): HistoryPanel {
  return new HistoryPanel({
    store,
    trans,
    actions: {} as any,
    compare: jest.fn(),
    drift: async () => null
  });
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}

describe('the sidebar over the run store', () => {
  it('filters by package version from the index, and follows new runs', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api);
    await store.addRun(makeRun({ manifest: manifest('1.6.1', 'a') }));
    await store.addRun(makeRun({ manifest: manifest('1.7.0', 'b') }));
    await store.addRun(makeRun({ noManifest: true }));
    const panel = sidebar(store);
    await panel.refresh();
    const status = panel.node.querySelector('.jp-DearDiary-status')!;
    expect(status.textContent).toBe('3 runs');

    panel.filter.value = 'DataFrames@1.6';
    panel.filter.dispatchEvent(new Event('input'));
    await until(
      'the filtered list',
      () => status.textContent === '1 of 3 runs'
    );
    panel.filter.value = 'pkg:dates';
    panel.filter.dispatchEvent(new Event('input'));
    await until(
      'the filtered list',
      () => status.textContent === '2 of 3 runs'
    );

    // A new run: the store says it changed, the filter is applied to it too.
    await store.addRun(makeRun({ manifest: manifest('1.6.3', 'c') }));
    await until('the new run', () => status.textContent === '3 of 4 runs');
    panel.filter.value = 'DataFrames@1.6';
    panel.filter.dispatchEvent(new Event('input'));
    await until(
      'the filtered list',
      () => status.textContent === '2 of 4 runs'
    );
    store.dispose();
  });

  it('paints the newest runs first while the whole list is on its way', async () => {
    let release = () => {};
    const held = new Promise<void>(resolve => (release = resolve));
    class SlowList extends FakeStoreAPI {
      async listRuns(options: { limit?: number } = {}) {
        if (options.limit === undefined) {
          await held;
        }
        return super.listRuns(options);
      }
    }
    const api = new SlowList();
    const writer = makeStore(api);
    for (let i = 0; i < 3; i++) {
      await writer.addRun(makeRun());
    }
    const store = makeStore(api);
    const panel = sidebar(store);
    const status = panel.node.querySelector('.jp-DearDiary-status')!;
    const refreshed = panel.refresh();
    await until('the first paint', () => status.textContent === '3 runs');
    let done = false;
    void refreshed.then(() => (done = true));
    await new Promise(resolve => setTimeout(resolve, 20));
    expect(done).toBe(false); // the whole list is still held
    release();
    await refreshed;
    expect(status.textContent).toBe('3 runs');
    expect((await store.listRuns()).length).toBe(3);
    store.dispose();
    writer.dispose();
  });

  it('says how many runs wait to be stored', async () => {
    const api = new FakeStoreAPI();
    const store = makeStore(api, { retryFirstMs: 10, retryMaxMs: 20 });
    const panel = sidebar(store);
    const waiting = panel.waiting;
    expect(waiting.hidden).toBe(true);
    api.down = new ServerError('Cannot reach the Jupyter server', 0, 'network');
    await expect(store.addRun(makeRun())).rejects.toBeInstanceOf(
      StoreSaveError
    );
    await expect(store.addRun(makeRun())).rejects.toBeInstanceOf(
      StoreSaveError
    );
    expect(waiting.hidden).toBe(false);
    expect(waiting.textContent).toBe('2 runs waiting to be stored');
    api.down = null;
    await until('the runs sent', () => waiting.hidden);
    expect(store.pendingCount).toBe(0);
    expect((await store.listRuns()).length).toBe(2);
    store.dispose();
  });

  it('asks the server for runs recorded elsewhere when shown, and while shown', async () => {
    jest.useFakeTimers();
    try {
      const store = makeStore(new FakeStoreAPI());
      const refresh = jest.spyOn(store, 'refresh');
      const panel = sidebar(store);
      const { MessageLoop } = jest.requireActual('@lumino/messaging');
      const { Widget } = jest.requireActual('@lumino/widgets');
      MessageLoop.sendMessage(panel, Widget.Msg.AfterShow);
      expect(refresh).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(10000);
      expect(refresh).toHaveBeenCalledTimes(2);
      MessageLoop.sendMessage(panel, Widget.Msg.BeforeHide);
      jest.advanceTimersByTime(30000);
      expect(refresh).toHaveBeenCalledTimes(2); // hidden: no more questions
      panel.dispose();
    } finally {
      jest.useRealTimers();
    }
  });
});
