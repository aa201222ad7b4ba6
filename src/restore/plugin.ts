/**
 * Restore commands: restore a run (pre-flight, write, reopen), install the packages of
 * the current notebook's project, restore a run's code as a git worktree. The flow is
 * loaded on first use.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  showDialog
} from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import {
  CommandIDs,
  IDearDiaryServer,
  IKernelBridges,
  IRunStore
} from '../tokens';
import type { IRestoreDeps } from './flow';
import { hasJuliaKernel, labelWhy, whyDisabled } from '../widgets/guidance';

const PLUGIN_ID = 'jupyterlab-deardiary:restore';

export const restorePlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Restores a recorded run into a folder and reopens it in a new kernel.',
  autoStart: true,
  requires: [
    IRunStore,
    IDearDiaryServer,
    IKernelBridges,
    IDocumentManager,
    INotebookTracker,
    ISettingRegistry
  ],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    store: IRunStore,
    server: IDearDiaryServer,
    bridges: IKernelBridges,
    docManager: IDocumentManager,
    tracker: INotebookTracker,
    registry: ISettingRegistry,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load('jupyterlab_deardiary');
    // What the user set over the schema's default (schema/restore.json states it).
    const settings = registry.load(PLUGIN_ID);
    const deps: IRestoreDeps = {
      app,
      store,
      server,
      bridges,
      docManager,
      translator,
      trans,
      instantiateByDefault: async () =>
        (await settings).get('instantiateAfterReopen').composite as boolean
    };
    const flow = () => import('./flow');
    /** The run id of the arguments, or asked for. */
    const runId = async (args: Record<string, unknown>) => {
      if (typeof args.id === 'number') {
        return args.id;
      }
      if ((await store.listRuns()).length === 0) {
        await showDialog({
          title: trans.__('No runs to restore'),
          body: trans.__(
            'No run is recorded yet. Open a Julia notebook and run a cell (the first execution is recorded), or press Snapshot; its runs then show in the DearDiary sidebar, where Restore… is in each run’s details.'
          ),
          buttons: [Dialog.okButton()]
        });
        return null;
      }
      const asked = await InputDialog.getNumber({
        title: trans.__('Which run? (its id, shown in its details)')
      });
      return asked.button.accept ? asked.value : null;
    };
    const idArgs = {
      type: 'object',
      properties: {
        id: { type: 'number', description: 'The run id' },
        target: {
          type: 'string',
          description: 'Folder relative to the server root'
        }
      }
    };

    app.commands.addCommand(CommandIDs.restore, {
      label: args =>
        typeof args.id === 'number'
          ? trans.__('Restore Iteration %1…', args.id)
          : trans.__('DearDiary: Restore a Run…'),
      describedBy: { args: idArgs },
      execute: async args => {
        const id = await runId(args);
        if (id === null) {
          return null;
        }
        const { restoreRun } = await flow();
        return restoreRun(deps, id, {
          target: typeof args.target === 'string' ? args.target : undefined
        });
      }
    });

    app.commands.addCommand(CommandIDs.restoreCode, {
      label: trans.__('DearDiary: Restore the Code of a Run (git worktree)…'),
      describedBy: { args: idArgs },
      execute: async args => {
        const id = await runId(args);
        if (id === null) {
          return;
        }
        const run = await store.getRun(id);
        const target =
          typeof args.target === 'string'
            ? args.target
            : await InputDialog.getText({
                title: trans.__(
                  'Worktree folder for the code of run #%1',
                  run.number
                ),
                text: `iteration_${run.id}_code`
              }).then(r => (r.button.accept ? r.value : null));
        if (target) {
          const { restoreCode } = await flow();
          await restoreCode(deps, run, target);
        }
      }
    });

    app.commands.addCommand(CommandIDs.instantiate, {
      label: () =>
        labelWhy(
          trans.__(
            'DearDiary: Install the Packages of This Notebook (Pkg.instantiate)'
          ),
          whyDisabled(trans, {
            julia: hasJuliaKernel(app.serviceManager.kernelspecs.specs),
            notebook: tracker.currentWidget !== null,
            enabled: tracker.currentWidget !== null
          })
        ),
      caption: trans.__(
        'Run Pkg.instantiate() in the current notebook\u2019s Julia kernel, never resolve or update'
      ),
      isEnabled: () => tracker.currentWidget !== null,
      execute: async () => {
        const panel = tracker.currentWidget;
        if (panel) {
          const { instantiate } = await flow();
          return instantiate(deps, panel);
        }
      }
    });

    for (const command of [
      CommandIDs.restore,
      CommandIDs.restoreCode,
      CommandIDs.instantiate
    ]) {
      palette?.addItem({ command, category: 'DearDiary' });
    }
  }
};
