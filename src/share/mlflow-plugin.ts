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
import { CommandToolbarButton, launchIcon } from '@jupyterlab/ui-components';
import { Message, MessageLoop } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';
import { CommandIDs, IRunStore } from '../tokens';
import type { HistoryPanel } from '../widgets/panel';
import { MlflowCommandIDs, runJob, startPull, startPush } from './mlflow';

/** The history sidebar's shell in the left area (src/widgets/plugin.ts). */
const HISTORY_ID = 'jp-DearDiary-history';

function historyPanel(app: JupyterFrontEnd): HistoryPanel | null {
  for (const widget of app.shell.widgets('left')) {
    if (widget.id === HISTORY_ID) {
      return ((widget as Panel).widgets[0] as HistoryPanel) ?? null;
    }
  }
  return null;
}

/** The runs marked in the sidebar, or else the one selected there. */
function selectedIds(app: JupyterFrontEnd): number[] {
  const list = historyPanel(app)?.list;
  if (!list) {
    return [];
  }
  if (list.marked.length) {
    return list.marked.map(run => run.id);
  }
  return list.selected ? [list.selected.id] : [];
}

/** The push button joins the sidebar's toolbar once its panel exists. */
function addSidebarAction(app: JupyterFrontEnd): void {
  const shell = [...app.shell.widgets('left')].find(w => w.id === HISTORY_ID);
  if (!shell) {
    return;
  }
  const decorate = (panel: HistoryPanel) => {
    panel.toolbar.addItem(
      'deardiary-mlflow-push',
      new CommandToolbarButton({
        commands: app.commands,
        id: MlflowCommandIDs.push,
        icon: launchIcon
      })
    );
    const changed = () =>
      app.commands.notifyCommandChanged(MlflowCommandIDs.push);
    panel.list.selectionChanged.connect(changed);
    panel.list.markedChanged.connect(changed);
  };
  const panel = (shell as Panel).widgets[0] as HistoryPanel | undefined;
  if (panel) {
    decorate(panel);
    return;
  }
  const hook = (_: unknown, msg: Message) => {
    if (msg.type === 'child-added') {
      MessageLoop.removeMessageHook(shell, hook);
      decorate((msg as Widget.ChildMessage).child as HistoryPanel);
    }
    return true;
  };
  MessageLoop.installMessageHook(shell, hook);
}

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
    const ids = (args: Record<string, unknown>) =>
      Array.isArray(args.ids) ? (args.ids as number[]) : selectedIds(app);

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
      isEnabled: args => ids(args).length > 0,
      execute: args =>
        runJob(trans, 'push', () => startPush(ids(args), settings), settings)
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
    void app.restored.then(() => addSidebarAction(app));
  }
};
