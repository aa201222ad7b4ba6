import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { downloadIcon, fileUploadIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { IRunStore } from '../tokens';
import {
  chooseFile,
  download,
  exportBundle,
  exportToDearDiary,
  IDearDiaryReport,
  IImportReport,
  importBundle,
  ShareCommandIDs
} from './bundle';
import { addSidebarButtons, targetIds } from './sidebar';

/** A dialog body: one paragraph per line. */
function lines(texts: string[]): Widget {
  const node = document.createElement('div');
  node.className = 'jp-DearDiary-shareReport';
  for (const text of texts) {
    const p = document.createElement('p');
    p.textContent = text;
    node.appendChild(p);
  }
  return new Widget({ node });
}

function importLines(trans: TranslationBundle, r: IImportReport): string[] {
  return [
    trans._n('%1 run added', '%1 runs added', r.added.length),
    trans._n(
      '%1 run was already in the store',
      '%1 runs were already in the store',
      r.already.length
    ),
    ...(r.refused.length
      ? [trans._n('%1 run refused:', '%1 runs refused:', r.refused.length)]
      : []),
    ...r.refused.map(x => `${x.snapshot_id ?? '?'}: ${x.message}`)
  ];
}

function deardiaryLines(
  trans: TranslationBundle,
  r: IDearDiaryReport
): string[] {
  return [
    trans.__('DearDiary store: %1 (schema %2)', r.path, r.flavour),
    trans._n('%1 run added', '%1 runs added', r.added.length),
    trans._n(
      '%1 run was already there',
      '%1 runs were already there',
      r.already.length
    ),
    ...(r.refused.length
      ? [
          trans._n(
            '%1 run DearDiary cannot hold:',
            '%1 runs DearDiary cannot hold:',
            r.refused.length
          )
        ]
      : []),
    ...r.refused.map(x => `${x.snapshot_id}: ${x.message}`)
  ];
}

/** Bundles and the DearDiary export: commands and the sidebar's actions. */
export const sharePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-deardiary:share',
  description:
    'Export runs as a bundle, import a bundle, export runs to DearDiary.jl.',
  autoStart: true,
  requires: [IRunStore],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    store: IRunStore,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_deardiary');
    const settings = app.serviceManager.serverSettings;
    const failed = (title: string, error: unknown) => {
      Notification.error(`${title}: ${(error as Error).message}`, {
        autoClose: false
      });
      return null;
    };

    app.commands.addCommand(ShareCommandIDs.exportBundle, {
      label: trans.__('Export Runs as a Bundle'),
      icon: downloadIcon,
      caption: trans.__(
        'Download the marked runs (or the selected one) as one zip: their exact files, and restore.jl for Julia without JupyterLab'
      ),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            ids: { type: 'array', items: { type: 'number' } }
          }
        }
      },
      isEnabled: args => targetIds(app, args).length > 0,
      execute: async args => {
        const ids = targetIds(app, args);
        try {
          const bundle = await exportBundle(ids, settings);
          download(bundle.data, bundle.filename);
          Notification.success(
            trans._n(
              '%1 run exported as %2',
              '%1 runs exported as %2',
              bundle.runs,
              bundle.filename
            ),
            { autoClose: 4000 }
          );
          return {
            filename: bundle.filename,
            size: bundle.data.size,
            runs: bundle.runs
          };
        } catch (error) {
          return failed(trans.__('The bundle was not made'), error);
        }
      }
    });

    app.commands.addCommand(ShareCommandIDs.importBundle, {
      label: trans.__('Import a Bundle of Runs…'),
      icon: fileUploadIcon,
      caption: trans.__(
        'Add the runs of a bundle (zip) to this store; every file is checked first'
      ),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        const file = await chooseFile('.zip,application/zip');
        if (!file) {
          return null;
        }
        let report: IImportReport;
        try {
          report = await importBundle(file, settings);
        } catch (error) {
          return failed(trans.__('The bundle was not imported'), error);
        }
        await store.refresh().catch(() => undefined);
        void showDialog({
          title: trans.__('Imported %1', file.name),
          body: lines(importLines(trans, report)),
          buttons: [Dialog.okButton()]
        });
        return report;
      }
    });

    app.commands.addCommand(ShareCommandIDs.exportDearDiary, {
      label: trans.__('Export Runs to DearDiary…'),
      caption: trans.__(
        "Add the marked runs (or all runs) to a DearDiary.jl store file, for DearDiary's restore, web UI and API"
      ),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            path: { type: 'string' },
            ids: { type: 'array', items: { type: 'number' } },
            flavour: { type: 'string', enum: ['v0.9.1', 'dev'] }
          }
        }
      },
      execute: async args => {
        const chosen = targetIds(app, args);
        const ids = chosen.length ? chosen : null;
        let path = typeof args.path === 'string' ? args.path : null;
        if (path === null) {
          const answer = await InputDialog.getText({
            title: ids
              ? trans._n(
                  'Export %1 run to DearDiary',
                  'Export %1 runs to DearDiary',
                  ids.length
                )
              : trans.__('Export all runs to DearDiary'),
            label: trans.__(
              'The DearDiary store file (DuckDB), relative to the Jupyter root:'
            ),
            text: 'deardiary.db'
          });
          if (!answer.button.accept || !answer.value) {
            return null;
          }
          path = answer.value;
        }
        const flavour =
          typeof args.flavour === 'string' ? args.flavour : 'v0.9.1';
        try {
          const report = await exportToDearDiary(path, ids, flavour, settings);
          void showDialog({
            title: trans.__('Exported to DearDiary'),
            body: lines(deardiaryLines(trans, report)),
            buttons: [Dialog.okButton()]
          });
          return report;
        } catch (error) {
          return failed(
            trans.__('The runs were not exported to DearDiary'),
            error
          );
        }
      }
    });

    for (const command of Object.values(ShareCommandIDs)) {
      palette?.addItem({ command, category: 'DearDiary' });
    }
    // Icons only (the caption is the tooltip and the accessible name): the sidebar is narrow.
    void app.restored.then(() =>
      addSidebarButtons(
        app,
        [
          { id: ShareCommandIDs.exportBundle, icon: downloadIcon, label: '' },
          { id: ShareCommandIDs.importBundle, icon: fileUploadIcon, label: '' }
        ],
        ShareCommandIDs.exportBundle
      )
    );
  }
};
