/**
 * MLflow's commands (push the marked or selected runs; import runs by their MLflow run
 * ids) and the push button on the history sidebar's toolbar.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, InputDialog } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { launchIcon } from '@jupyterlab/ui-components';
import { CommandIDs, IRunStore } from '../tokens';
import { MlflowCommandIDs, runJob, startPull, startPush } from './mlflow';
import { addSidebarButtons, targetIds } from './sidebar';

export const mlflowPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-deardiary:mlflow',
  description: 'Push runs to an MLflow tracking server and import them back.',
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

    app.commands.addCommand(MlflowCommandIDs.push, {
      label: trans.__('Push Runs to MLflow'),
      caption: trans.__(
        'Send the marked runs (or the selected one) to the MLflow tracking server set on the Jupyter server, with their exact files'
      ),
      describedBy: {
        args: {
          type: 'object',
          properties: { ids: { type: 'array', items: { type: 'number' } } }
        }
      },
      isEnabled: args => targetIds(app, args).length > 0,
      execute: args =>
        runJob(
          trans,
          'push',
          () => startPush(targetIds(app, args), settings),
          settings
        )
    });

    app.commands.addCommand(MlflowCommandIDs.pull, {
      label: trans.__('Import Runs from MLflow…'),
      caption: trans.__(
        'Add runs pushed to MLflow to this store by their MLflow run ids (every file is checked)'
      ),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            mlflowRunIds: { type: 'array', items: { type: 'string' } }
          }
        }
      },
      execute: async args => {
        let wanted = Array.isArray(args.mlflowRunIds)
          ? (args.mlflowRunIds as string[])
          : null;
        if (!wanted) {
          const answer = await InputDialog.getText({
            title: trans.__('Import Runs from MLflow'),
            label: trans.__('MLflow run ids (separated by spaces or commas):')
          });
          if (!answer.button.accept || !answer.value?.trim()) {
            return null;
          }
          wanted = answer.value.split(/[\s,]+/).filter(Boolean);
        }
        const job = await runJob(
          trans,
          'pull',
          () => startPull(wanted!, settings),
          settings,
          done =>
            done.results.length === 1
              ? [
                  {
                    label: trans.__('Restore'),
                    caption: trans.__('Restore the imported run'),
                    callback: () =>
                      void app.commands.execute(CommandIDs.restore, {
                        id: done.results[0].run_id
                      })
                  }
                ]
              : []
        );
        await store.refresh().catch(() => undefined);
        return job;
      }
    });

    for (const command of Object.values(MlflowCommandIDs)) {
      palette?.addItem({ command, category: 'DearDiary' });
    }
    void app.restored.then(() =>
      addSidebarButtons(
        app,
        [
          {
            id: MlflowCommandIDs.push,
            icon: launchIcon,
            name: 'deardiary-mlflow-push'
          }
        ],
        MlflowCommandIDs.push
      )
    );
  }
};
