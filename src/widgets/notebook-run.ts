/**
 * "Outputs from run #N · Julia X · manifest ab12…": a line below each notebook's toolbar
 * when the notebook carries `metadata.deardiary` (recorder/run-metadata.ts). A click
 * shows that run in the sidebar. A run not in this store (a notebook copied from
 * another machine) is named by its manifest's hash.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import {
  linkRun,
  METADATA_KEY,
  parseRunMetadata,
  RunLink
} from '../recorder/run-metadata';
import { describeLink } from './notebook-run-text';
import { CommandIDs, IRunStore } from '../tokens';
import '../../style/notebook-run.css';

/** The item of one notebook panel. */
export class NotebookRunItem extends Widget {
  constructor(
    private readonly _o: {
      panel: NotebookPanel;
      store: IRunStore;
      trans: TranslationBundle;
      show: (runId: number | null) => void;
    }
  ) {
    super();
    this.addClass('jp-DearDiary-notebookRunBar');
    this._button.type = 'button';
    this._button.className = 'jp-DearDiary-notebookRun';
    this.node.append(this._button);
    this._button.addEventListener('click', () =>
      this._o.show(this._link?.state === 'run' ? this._link.run.id : null)
    );
    this.hide();
    const { panel, store } = _o;
    store.changed.connect(() => void this.update(), this);
    void panel.context.ready.then(() => {
      if (this.isDisposed) {
        return;
      }
      panel.model?.metadataChanged.connect((_, change) => {
        if (change.key === METADATA_KEY) {
          void this.update();
        }
      }, this);
      void this.update();
    });
  }

  /** The run the notebook names, as last shown (null: none). */
  get link(): RunLink | null {
    return this._link;
  }

  /** Read the metadata again and find its run in the store. */
  async update(): Promise<void> {
    const metadata = parseRunMetadata(
      this._o.panel.model?.getMetadata(METADATA_KEY)
    );
    let link: RunLink | null = null;
    if (metadata) {
      let runs: Awaited<ReturnType<IRunStore['listRuns']>> = [];
      try {
        runs = await this._o.store.listRuns();
      } catch {
        runs = []; // no store reachable: the hashes still say which environment
      }
      link = linkRun(metadata, runs);
    }
    if (this.isDisposed) {
      return;
    }
    this._link = link;
    const words = describeLink(this._o.trans, link);
    this._button.textContent = words?.text ?? '';
    this._button.title = words?.title ?? '';
    this._button.dataset.state = link?.state ?? '';
    this.setHidden(!words);
  }

  private _link: RunLink | null = null;
  private readonly _button = document.createElement('button');
}

/**
 * The item of every notebook panel, in its content header (the line below the toolbar:
 * always shown, never moved into the toolbar's overflow menu as a toolbar item is).
 */
export const notebookRunPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-deardiary:notebook-run',
  description:
    'Shows which recorded run the outputs of a notebook come from (metadata.deardiary).',
  autoStart: true,
  requires: [INotebookTracker, IRunStore],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    store: IRunStore,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_deardiary');
    tracker.widgetAdded.connect((_, panel) => {
      const item = new NotebookRunItem({
        panel,
        store,
        trans,
        show: id =>
          void app.commands.execute(
            id === null ? CommandIDs.openHistory : CommandIDs.showRun,
            id === null ? {} : { id }
          )
      });
      panel.contentHeader.addWidget(item);
      panel.disposed.connect(() => item.dispose());
    });
  }
};
