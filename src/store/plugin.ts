import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import { sha256 } from '../kernel/sha256';
import { IDearDiaryServer, IRunStore } from '../tokens';
import { StoreOpenError } from './errors';
import type { RunStore } from './store';
import { IAddResult, IRunDetail, IRunInput, IRunSummary } from './types';

/**
 * The run store, created on first use: sql.js, its wasm and the store module are
 * fetched only then, never at JupyterLab start.
 */
export const storePlugin: JupyterFrontEndPlugin<IRunStore> = {
  id: 'jupyterlab-deardiary:store',
  description:
    'The runs recorded in this Jupyter root (SQLite through sql.js).',
  autoStart: true,
  provides: IRunStore,
  requires: [IDearDiaryServer],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    server: IDearDiaryServer,
    translator: ITranslator | null
  ): IRunStore =>
    new LazyRunStore(
      server,
      (translator ?? nullTranslator).load('jupyterlab_deardiary')
    )
};

class LazyRunStore implements IRunStore {
  constructor(
    private readonly _server: IDearDiaryServer,
    private readonly _trans: TranslationBundle
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  addRun(input: IRunInput): Promise<IAddResult> {
    return this._use(store => store.addRun(input));
  }

  listRuns(): Promise<IRunSummary[]> {
    return this._use(store => store.listRuns());
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

  private _store(): Promise<RunStore> {
    if (!this._pending) {
      this._pending = import('./store').then(({ RunStore }) => {
        const api = this._server.api;
        const store = new RunStore({
          api,
          keepAside: async bytes => {
            const kept = await api.keepStoreAside(await sha256(bytes));
            return kept.relpath ?? kept.path;
          }
        });
        store.changed.connect(() => this._changed.emit(), this);
        return store;
      });
      this._pending.catch(() => (this._pending = null));
    }
    return this._pending;
  }

  /** One question at a time, even when several operations hit the broken store. */
  private _askStartFresh(
    store: RunStore,
    error: StoreOpenError
  ): Promise<boolean> {
    if (!this._asking) {
      this._asking = (async () => {
        const status = this._server.status;
        const where =
          status.state === 'ok'
            ? status.info.store_path
            : '.deardiary/deardiary.sqlite';
        const trans = this._trans;
        const result = await showDialog({
          title: trans.__('The DearDiary store cannot be opened'),
          body: trans.__(
            '%1 (in the Jupyter root): %2\n\nIt has not been changed. You can keep a copy of it beside it (%1.broken-<time>) and start a new, empty store; the runs in the old file stay in that copy.',
            where,
            error.message
          ),
          buttons: [
            Dialog.cancelButton({ label: trans.__('Leave it') }),
            Dialog.warnButton({
              label: trans.__('Keep a copy and start a new store')
            })
          ]
        });
        if (!result.button.accept) {
          return false;
        }
        await store.startFresh();
        return true;
      })().finally(() => (this._asking = null));
    }
    return this._asking;
  }

  private _pending: Promise<RunStore> | null = null;
  private _asking: Promise<boolean> | null = null;
  private _changed = new Signal<this, void>(this);
}
