/**
 * The run store behind IRunStore: the RunStore (the store module, sql.js and its wasm)
 * is created on first use, never at JupyterLab start. The run list is shown before the
 * store is loaded: see `listRuns`.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { sha256 } from '../kernel/sha256';
import type { IRunList } from '../server/api';
import type { IDearDiaryServer, IRunStore } from '../tokens';
import { StoreOpenError } from './errors';
import type { RunStore } from './store';
import type { IAddResult, IRunDetail, IRunInput, IRunSummary } from './types';

export class LazyRunStore implements IRunStore {
  constructor(options: LazyRunStore.IOptions) {
    this._server = options.server;
    this._confirmStartFresh = options.confirmStartFresh;
    this._create = options.create ?? Private.createStore;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  addRun(input: IRunInput): Promise<IAddResult> {
    return this._use(store => store.addRun(input));
  }

  /**
   * All runs, newest first. Before the store is loaded, the runs come from the server
   * (GET /deardiary/runs, read from the store file) and the store loads in the
   * background; its rows are the same as long as it is the version they were read
   * from. When the server cannot list them (an older server, another schema, an error),
   * the store is loaded first, as it always was.
   */
  async listRuns(): Promise<IRunSummary[]> {
    if (!this._loaded) {
      this._early ??= this._listEarly();
      await this._early;
    }
    const early = this._earlyRuns;
    return early ? [...early.runs] : this._use(store => store.listRuns());
  }

  /**
   * Fetch the run list ahead (call it when JupyterLab is idle), not the store: the
   * sidebar's first listRuns then only asks whether it is still current.
   */
  prefetch(): void {
    if (!this._loaded && !this._early && !this._prefetched) {
      this._prefetched = this._server.api.listRuns().catch(() => null);
    }
  }

  getRun(id: number): Promise<IRunDetail> {
    return this._use(store => store.getRun(id));
  }

  updateNote(id: number, note: string): Promise<IRunSummary> {
    return this._use(store => store.updateNote(id, note));
  }

  deleteRun(id: number): Promise<void> {
    return this._use(store => store.deleteRun(id));
  }

  getText(sha256: string): Promise<string | null> {
    return this._use(store => store.getText(sha256));
  }

  getBlob(sha256: string): Promise<Uint8Array | null> {
    return this._use(store => store.getBlob(sha256));
  }

  /** Run `op`; a store that cannot be opened is explained, and replaced only if asked. */
  private async _use<T>(op: (store: RunStore) => Promise<T>): Promise<T> {
    const store = await this._store();
    try {
      return await op(store);
    } catch (error) {
      if (
        !(error instanceof StoreOpenError) ||
        !(await this._askStartFresh(store, error))
      ) {
        throw error;
      }
      return op(store);
    }
  }

  /** The server's run list (or nothing: the store lists them); then the store loads. */
  private async _listEarly(): Promise<void> {
    try {
      const [list, { SCHEMA_VERSION }] = await Promise.all([
        this._currentList(),
        import('./schema')
      ]);
      if (this._loaded || list.schema_version !== SCHEMA_VERSION) {
        return;
      }
      this._earlyRuns = list;
    } catch {
      return; // the store lists them
    }
    // A store that cannot be opened is explained by _use (and again by the next
    // operation that needs the store).
    void this._use(store => store.open()).catch(() => undefined);
  }

  /** The prefetched list while the store is still that version, else a new one. */
  private async _currentList(): Promise<IRunList> {
    const api = this._server.api;
    const held = await this._prefetched;
    this._prefetched = null;
    if (held?.etag) {
      return (await api.listRunsIfChanged(held.etag)) ?? held;
    }
    return api.listRuns();
  }

  private _store(): Promise<RunStore> {
    if (!this._pending) {
      this._pending = this._create(this._server).then(store => {
        store.changed.connect(this._storeChanged, this);
        return store;
      });
      this._pending.catch(() => (this._pending = null));
    }
    return this._pending;
  }

  /** Pass the store's changes on, except its first load when it shows the same runs. */
  private _storeChanged(store: RunStore): void {
    const first = !this._loaded;
    this._loaded = true;
    const early = this._earlyRuns;
    if (first && early?.etag === store.etag && store.pendingCount === 0) {
      return; // the runs listed early are this store's
    }
    this._earlyRuns = null;
    this._changed.emit();
  }

  /** One question at a time, even when several operations hit the broken store. */
  private _askStartFresh(
    store: RunStore,
    error: StoreOpenError
  ): Promise<boolean> {
    if (!this._asking) {
      this._asking = (async () => {
        if (!(await this._confirmStartFresh(error))) {
          return false;
        }
        await store.startFresh();
        return true;
      })().finally(() => (this._asking = null));
    }
    return this._asking;
  }

  private readonly _server: IDearDiaryServer;
  private readonly _confirmStartFresh: LazyRunStore.IOptions['confirmStartFresh'];
  private readonly _create: (server: IDearDiaryServer) => Promise<RunStore>;
  private _pending: Promise<RunStore> | null = null;
  private _asking: Promise<boolean> | null = null;
  private _changed = new Signal<this, void>(this);
  /** The store has loaded (it emitted `changed` once). */
  private _loaded = false;
  /** The server's run list, asked for once, before the store loaded. */
  private _early: Promise<void> | null = null;
  /** The run list fetched ahead (null: it failed), until the first listRuns. */
  private _prefetched: Promise<IRunList | null> | null = null;
  /** The runs the server listed, while the store (to be) loaded is that version. */
  private _earlyRuns: IRunList | null = null;
}

export namespace LazyRunStore {
  export interface IOptions {
    server: IDearDiaryServer;
    /**
     * Ask the user whether to keep a copy of a store that cannot be opened and start a
     * new one; resolves with the answer.
     */
    confirmStartFresh(error: StoreOpenError): Promise<boolean>;
    /** Creates the RunStore (tests); default: the store module, loaded on first use. */
    create?: (server: IDearDiaryServer) => Promise<RunStore>;
  }
}

namespace Private {
  export async function createStore(
    server: IDearDiaryServer
  ): Promise<RunStore> {
    const { RunStore } = await import('./store');
    const api = server.api;
    return new RunStore({
      api,
      keepAside: async bytes => {
        const kept = await api.keepStoreAside(await sha256(bytes));
        return kept.relpath ?? kept.path;
      }
    });
  }
}
