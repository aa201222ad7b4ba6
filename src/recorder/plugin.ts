import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  Notification,
  showErrorMessage
} from '@jupyterlab/apputils';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { diaryIcon } from '../icons';
import { recordKernelspec } from '../kernel/kernelspec';
import { withKernelProgress } from '../kernel/plugin';
import {
  CommandIDs,
  IDearDiaryServer,
  IKernelBridges,
  IRunStore
} from '../tokens';
import { StoreSaveError } from '../store/errors';
import { IAddResult, RunTrigger } from '../store/types';
import { AutoCaptureMode, NotebookRecorder } from './notebook-recorder';
import { IRecorderOptions, Recorder } from './recorder';
import { trackUserEdits } from './unsaved';
import { METADATA_KEY, sameMetadata } from './run-metadata';
import { fromBase64 } from '../bytes';
import { hasJuliaKernel, labelWhy, whyDisabled } from '../widgets/guidance';
import { writeCause } from '../widgets/humanize';

// The id names the user's settings of this plugin (schema/snapshot.json): kept as it was
// so that they survive upgrades.
const PLUGIN_ID = 'jupyterlab-deardiary:snapshot';

/** Records runs: the toolbar button, automatic capture and @snapshot from code. */
export const recorderPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Records runs of Julia notebooks: button, automatic capture, @snapshot.',
  autoStart: true,
  requires: [
    INotebookTracker,
    IKernelBridges,
    IDearDiaryServer,
    IRunStore,
    ISettingRegistry
  ],
  optional: [ICommandPalette, ITranslator],
  activate: async (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    bridges: IKernelBridges,
    server: IDearDiaryServer,
    store: IRunStore,
    registry: ISettingRegistry,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_deardiary');
    const contents = app.serviceManager.contents;
    // The settings as the user set them over the schema's defaults (schema/snapshot.json
    // is their only statement).
    const settings = await registry.load(PLUGIN_ID);
    const setting = <T>(key: string) => settings.get(key).composite as T;
    const mode = () => setting<AutoCaptureMode>('autoCapture');
    const options = (): IRecorderOptions => ({
      keepNotebook: setting<boolean>('keepNotebook'),
      patchMaxBytes: setting<number>('patchMaxBytes')
    });

    const recorder = new Recorder({
      git: path => server.api.git(path),
      readFile: async path => {
        const model = await contents.get(path, {
          type: 'file',
          format: 'base64',
          content: true
        });
        return fromBase64((model.content as string).replace(/\s/g, ''));
      },
      addRun: input => store.addRun(input),
      options,
      kernelspec: name =>
        recordKernelspec(
          app.serviceManager.kernelspecs.specs?.kernelspecs[name]
        )
    });

    const controllers = new Map<NotebookPanel, NotebookRecorder>();
    const controllerOf = (panel: NotebookPanel | null) =>
      panel ? (controllers.get(panel) ?? null) : null;
    const refresh = () =>
      app.commands.notifyCommandChanged(CommandIDs.snapshot);

    tracker.widgetAdded.connect((_, panel) => {
      const controller = new NotebookRecorder({
        notebook: {
          sessionContext: panel.sessionContext,
          path: () => contents.localPath(panel.context.path),
          unsaved: trackUserEdits(panel.context),
          content: () => panel.model?.toJSON(),
          markRun: metadata => {
            // Through the shared model (RTC: every client sees it); the next save
            // writes it. Not a user edit: trackUserEdits ignores metadata.
            const model = panel.model;
            if (
              model &&
              !sameMetadata(model.getMetadata(METADATA_KEY), metadata)
            ) {
              model.setMetadata(METADATA_KEY, metadata);
            }
          }
        },
        bridge: bridges.get(panel),
        recorder,
        mode
      });
      controllers.set(panel, controller);
      controller.languageChanged.connect(refresh);
      controller.recorded.connect((_, event) => {
        if (event.ok) {
          if (event.result.created) {
            notifySaved(app, trans, event.result, event.trigger);
          }
        } else {
          notifyFailed(trans, event.trigger, event.error);
        }
      });
      panel.disposed.connect(() => {
        controller.dispose();
        controllers.delete(panel);
      });
    });
    tracker.currentChanged.connect(refresh);
    NotebookActions.executionScheduled.connect((_, { notebook }) => {
      controllerOf(panelOf(tracker, notebook))?.executionScheduled();
    });
    NotebookActions.executed.connect((_, { notebook }) => {
      controllerOf(panelOf(tracker, notebook))?.executed();
    });

    app.commands.addCommand(CommandIDs.snapshot, {
      label: () =>
        labelWhy(
          trans.__('Snapshot Julia Environment'),
          whyDisabled(trans, {
            julia: hasJuliaKernel(app.serviceManager.kernelspecs.specs),
            notebook: tracker.currentWidget !== null,
            enabled: controllerOf(tracker.currentWidget)?.isJulia ?? false
          })
        ),
      caption: trans.__(
        'Record the exact Julia environment, notebook and git state of this run'
      ),
      icon: diaryIcon,
      isVisible: () => controllerOf(tracker.currentWidget)?.isJulia ?? false,
      isEnabled: () => controllerOf(tracker.currentWidget)?.isJulia ?? false,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            note: { type: 'string', description: 'A note for the run' }
          }
        }
      },
      execute: async args => {
        const controller = controllerOf(tracker.currentWidget);
        if (!controller) {
          return;
        }
        try {
          const result = await withKernelProgress(
            controller.bridge,
            trans,
            signal => controller.snapshot((args.note as string) ?? '', signal)
          );
          notifySaved(app, trans, result, 'button');
          return result.run;
        } catch (error) {
          notifyFailed(trans, 'button', error as Error);
        }
      }
    });
    palette?.addItem({ command: CommandIDs.snapshot, category: 'DearDiary' });
  }
};

function panelOf(
  tracker: INotebookTracker,
  notebook: unknown
): NotebookPanel | null {
  return tracker.find(panel => panel.content === notebook) ?? null;
}

function notifySaved(
  app: JupyterFrontEnd,
  trans: TranslationBundle,
  result: IAddResult,
  trigger: RunTrigger
): void {
  const run = result.run;
  const message =
    trigger === 'button' || trigger === 'code'
      ? trans.__('Run #%1 saved', run.number)
      : trans.__('Run #%1 recorded automatically (%2)', run.number, trigger);
  Notification.success(message, {
    autoClose: 5000,
    actions: [
      {
        label: trans.__('Show'),
        callback: () =>
          void app.commands.execute(CommandIDs.showRun, { id: run.id })
      }
    ]
  });
}

function notifyFailed(
  trans: TranslationBundle,
  trigger: RunTrigger,
  error: Error
): void {
  if ((error as { code?: string }).code === 'cancelled') {
    return;
  }
  if (error instanceof StoreSaveError) {
    // Kept in this browser's outbox: it will be sent when the server answers.
    // What matters first (a toast cuts long text): the why is behind Details.
    // A store the server cannot write: that cause first, in the toast's visible part.
    const cause = writeCause(error.cause);
    const title = cause
      ? trans.__('%1 The run is kept in this browser.', cause)
      : trans._n(
          'Run kept in this browser: it is stored when the server answers (%1 run waiting).',
          'Run kept in this browser: it is stored when the server answers (%1 runs waiting).',
          error.pendingCount
        );
    Notification.warning(title, {
      autoClose: false,
      actions: [
        {
          label: trans.__('Details'),
          callback: () => void showErrorMessage(title, error)
        }
      ]
    });
    return;
  }
  const title =
    trigger === 'button'
      ? trans.__('The run was not saved')
      : trans.__('Automatic capture failed (%1)', trigger);
  Notification.error(`${title}: ${error.message}`, {
    autoClose: false,
    actions: [
      {
        label: trans.__('Details'),
        callback: () => void showErrorMessage(title, error)
      }
    ]
  });
}
