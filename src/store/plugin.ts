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
import { LazyRunStore } from './lazy';

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
  ): IRunStore => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_deardiary');
    const store = new LazyRunStore({
      server,
      confirmStartFresh: error => confirmStartFresh(server, trans, error)
    });
    // The run list (not the store) once JupyterLab is up and idle: the sidebar then
    // paints at once, after asking the server whether the list is still current.
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
    status.state === 'ok'
      ? status.info.store_path
      : '.deardiary/deardiary.sqlite';
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
  return result.button.accept;
}
