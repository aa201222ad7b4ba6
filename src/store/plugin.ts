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
import { IDearDiaryServer, IRunStore } from '../tokens';
import { StoreOpenError } from './errors';
import { RunStore } from './client';

/**
 * The run store. At activation it sends the runs waiting in this browser's outbox;
 * sql.js and its wasm are fetched only when the index is first needed (a package
 * filter), never at JupyterLab start.
 */
export const storePlugin: JupyterFrontEndPlugin<IRunStore> = {
  id: 'jupyterlab-deardiary:store',
  description:
    'The runs recorded in this Jupyter root (kept by the server, indexed with sql.js).',
  autoStart: true,
  provides: IRunStore,
  requires: [IDearDiaryServer],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    server: IDearDiaryServer,
    translator: ITranslator | null
  ): IRunStore => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_deardiary');
    const store = new RunStore({
      api: server.api,
      trans,
      confirmStartFresh: error => confirmStartFresh(server, trans, error)
    });
    void store.start().catch(() => undefined);
    // A tab with runs not yet on the server asks before it closes.
    window.addEventListener('beforeunload', event => {
      if (store.pendingCount > 0) {
        event.preventDefault();
        // Browsers that predate preventDefault here ask when returnValue is not empty.
        event.returnValue = trans._n(
          '%1 run is waiting to be stored.',
          '%1 runs are waiting to be stored.',
          store.pendingCount
        );
      }
    });
    window.addEventListener('online', () => void store.flush());
    // Back to this tab or window: other tabs, kernels or browsers may have recorded
    // runs (one GET ?since=, 304 when nothing changed).
    const refresh = () => void store.refresh().catch(() => undefined);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        refresh();
      }
    });
    window.addEventListener('focus', refresh);
    // The run list once JupyterLab is up and idle: the sidebar then paints at once.
    void app.restored.then(() =>
      (window.requestIdleCallback ?? setTimeout)(() => store.prefetch())
    );
    return store;
  }
};

/** Ask whether to keep a copy of a store that cannot be opened and start a new one. */
async function confirmStartFresh(
  server: IDearDiaryServer,
  trans: TranslationBundle,
  error: StoreOpenError
): Promise<boolean> {
  const status = server.status;
  const where =
    error.path ??
    (status.state === 'ok'
      ? status.info.store_path
      : '.deardiary/deardiary.sqlite');
  const result = await showDialog({
    title: trans.__('The DearDiary store cannot be opened'),
    body: trans.__(
      '%1 (in the Jupyter root): %2\n\nIt has not been changed. You can move it aside (%1.broken-<time>) and start a new, empty store; the runs in the old file stay in that file.',
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
  return result.button.accept;
}
