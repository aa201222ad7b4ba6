import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { CommandIDs, IKernelBridges } from '../tokens';
import { KernelBridge } from './bridge';
import { ICapture, pathToString } from './protocol';
import { KernelBridges } from './registry';
import { hasJuliaKernel, labelWhy, whyDisabled } from '../widgets/guidance';

/** One kernel bridge per notebook, and a command that shows what the kernel is made of. */
export const kernelPlugin: JupyterFrontEndPlugin<IKernelBridges> = {
  id: 'jupyterlab-deardiary:kernel',
  description:
    'Talks to the Julia kernel of each notebook over the deardiary comm.',
  autoStart: true,
  provides: IKernelBridges,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): IKernelBridges => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_deardiary');
    const bridges = new KernelBridges();

    app.commands.addCommand(CommandIDs.showEnvironment, {
      label: () =>
        labelWhy(
          trans.__('DearDiary: Show Kernel Environment'),
          whyDisabled(trans, {
            julia: hasJuliaKernel(app.serviceManager.kernelspecs.specs),
            notebook: tracker.currentWidget !== null,
            enabled: tracker.currentWidget !== null
          })
        ),
      caption: trans.__(
        'Julia version, active project and manifest of this kernel'
      ),
      isEnabled: () => tracker.currentWidget !== null,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        const panel = tracker.currentWidget;
        if (!panel) {
          return;
        }
        const bridge = bridges.get(panel);
        try {
          const capture = await withKernelProgress(bridge, trans, signal =>
            bridge.fingerprint({ signal })
          );
          await showDialog({
            title: trans.__('Kernel environment'),
            body: describe(capture, trans),
            buttons: [Dialog.okButton()]
          });
          return capture;
        } catch (error) {
          Notification.error(
            trans.__(
              'DearDiary could not ask the kernel: %1',
              (error as Error).message
            ),
            { autoClose: 8000 }
          );
        }
      }
    });
    palette?.addItem({
      command: CommandIDs.showEnvironment,
      category: 'DearDiary'
    });
    return bridges;
  }
};

/**
 * Run kernel work; while it waits (behind a running cell, or for a restart), show a
 * notification that says what it waits for and offers to stop waiting.
 */
export async function withKernelProgress<T>(
  bridge: KernelBridge,
  trans: TranslationBundle,
  work: (signal: AbortSignal) => Promise<T>
): Promise<T> {
  const controller = new AbortController();
  let id: string | null = null;
  const show = () => {
    const waitingFor = bridge.waitingFor;
    if (waitingFor === null) {
      if (id !== null) {
        Notification.dismiss(id);
        id = null;
      }
      return;
    }
    const message =
      waitingFor === 'restart'
        ? trans.__('Waiting for the kernel to restart…')
        : trans.__('Waiting for the kernel to finish the running cell…');
    const options = {
      autoClose: false as const,
      actions: [
        {
          label: trans.__('Stop waiting'),
          callback: () => controller.abort()
        }
      ]
    };
    if (id === null) {
      id = Notification.emit(message, 'in-progress', options);
    } else {
      Notification.update({ id, message, type: 'in-progress', ...options });
    }
  };
  bridge.waitingChanged.connect(show);
  try {
    const result = work(controller.signal);
    // The bridge may be waiting already (for example for a connection that another
    // request opens behind a running cell): then this work waits too.
    show();
    return await result;
  } finally {
    bridge.waitingChanged.disconnect(show);
    if (id !== null) {
      Notification.dismiss(id);
    }
  }
}

function describe(capture: ICapture, trans: TranslationBundle): Widget {
  const lines = [trans.__('Julia %1', capture.julia_version)];
  if (capture.project) {
    lines.push(
      trans.__('Project: %1', pathToString(capture.project.path)) +
        (capture.project.is_global ? trans.__(' (global environment)') : '') +
        (capture.project.exists ? '' : trans.__(' (does not exist)'))
    );
  } else {
    lines.push(trans.__('No active project'));
  }
  for (const file of capture.files) {
    lines.push(
      `${file.name}: ${file.size} B, sha256 ${file.sha256.slice(0, 12)}…`
    );
  }
  if (!capture.manifest) {
    lines.push(trans.__('No manifest: the dependency tree is not pinned.'));
  }
  const body = new Widget({ node: document.createElement('pre') });
  body.addClass('jp-DearDiary-environment');
  body.node.textContent = lines.join('\n');
  return body;
}
