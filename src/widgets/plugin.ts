import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Message } from '@lumino/messaging';
import { Panel } from '@lumino/widgets';
import { diaryIcon } from '../icons';
import { CommandIDs, IKernelBridges, IRunStore } from '../tokens';
import type { HistoryPanel } from './panel';
import type { IHistoryDeps } from './actions';
import { guidanceBox, JuliaGuide } from './guidance';

/** The left-area shell: the sidebar's content is loaded when it is first shown. */
class HistoryShell extends Panel {
  constructor(
    private readonly _deps: IHistoryDeps,
    private readonly _setUp?: (panel: HistoryPanel) => void
  ) {
    super();
    this.id = 'jp-DearDiary-history';
    this.addClass('jp-DearDiary-historyShell');
    this.title.icon = diaryIcon;
    this.title.caption = _deps.trans.__('DearDiary: recorded runs');
  }

  /** The panel, loading it if needed. */
  panel(): Promise<HistoryPanel> {
    if (!this._panel) {
      // Ask for the runs while the panel's code loads (the panel's listing shares it).
      void this._deps.store.listRuns().catch(() => undefined);
      this._panel = import('./actions').then(({ createHistoryPanel }) => {
        const panel = createHistoryPanel(this._deps);
        this._setUp?.(panel);
        this.addWidget(panel);
        return panel;
      });
      this._panel.catch(() => (this._panel = null));
    }
    return this._panel;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.panel().then(panel => panel.refresh());
  }

  private _panel: Promise<HistoryPanel> | null = null;
}

/** The history sidebar: browse, compare and search runs. */
export const historyPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-deardiary:history',
  description: 'A sidebar that lists, compares and searches recorded runs.',
  autoStart: true,
  requires: [IRunStore, IKernelBridges, INotebookTracker],
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    ITranslator,
    IRenderMimeRegistry,
    IEditorServices
  ],
  activate: (
    app: JupyterFrontEnd,
    store: IRunStore,
    bridges: IKernelBridges,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    rendermime: IRenderMimeRegistry | null,
    editorServices: IEditorServices | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_deardiary');
    const deps: IHistoryDeps = {
      app,
      store,
      bridges,
      tracker,
      trans,
      icon: diaryIcon,
      rendermime,
      editorServices
    };
    // No Julia kernel installed: the sidebar says so, and once a notification.
    const guide = new JuliaGuide({
      kernelspecs: app.serviceManager.kernelspecs,
      trans
    });
    void app.restored.then(() => guide.notifyOnce()).catch(() => undefined);
    const language = (translator ?? nullTranslator).languageCode;
    const shell = new HistoryShell(deps, panel => {
      panel.list.language = language;
      panel.showGuidance(guidanceBox(guide));
      const empty = () => {
        panel.list.emptyText =
          guide.installed === false
            ? trans.__(
                'No runs. Install a Julia kernel first (see above): DearDiary records Julia notebooks.'
              )
            : null;
      };
      guide.changed.connect(empty, panel);
      empty();
    });
    app.shell.add(shell, 'left', { rank: 650 });
    restorer?.add(shell, 'deardiary-history');

    app.commands.addCommand(CommandIDs.openHistory, {
      label: trans.__('DearDiary: Show Recorded Runs'),
      execute: () => app.shell.activateById(shell.id)
    });
    app.commands.addCommand(CommandIDs.showRun, {
      label: trans.__('Show DearDiary Run'),
      describedBy: {
        args: {
          type: 'object',
          properties: { id: { type: 'number', description: 'The run id' } },
          required: ['id']
        }
      },
      execute: async args => {
        app.shell.activateById(shell.id);
        await (await shell.panel()).reveal(args.id as number);
      }
    });
    app.commands.addCommand(CommandIDs.compareRuns, {
      label: trans.__('DearDiary: Compare Two Runs'),
      describedBy: {
        args: {
          type: 'object',
          properties: { a: { type: 'number' }, b: { type: 'number' } },
          required: ['a', 'b']
        }
      },
      execute: async args => {
        const runs = await store.listRuns();
        const [a, b] = [args.a, args.b].map(id => runs.find(r => r.id === id));
        if (!a || !b) {
          throw new Error(
            trans.__('No such runs: %1, %2', String(args.a), String(args.b))
          );
        }
        const { openComparison } = await import('./actions');
        await openComparison(deps, a, b);
      }
    });
    palette?.addItem({
      command: CommandIDs.openHistory,
      category: 'DearDiary'
    });
  }
};
