/**
 * The notebook diff of two runs, cell by cell (source, outputs with their images, and
 * metadata): the server computes it with nbdime (GET /deardiary/nbdiff) and nbdime's own
 * widgets render it, given the app's rendermime registry (so outputs render as in a
 * notebook, untrusted ones behind nbdime's "trust" button) and editor factory.
 */
import type { CodeEditor } from '@jupyterlab/codeeditor';
import type * as nbformat from '@jupyterlab/nbformat';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { ServerConnection } from '@jupyterlab/services';
import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { Panel, Widget } from '@lumino/widgets';
import type { IDiffEntry } from 'nbdime/lib/diff/diffentries';
import { NotebookDiffModel } from 'nbdime/lib/diff/model';
import { NotebookDiffWidget } from 'nbdime/lib/diff/widget';
import 'nbdime/lib/common/collapsible.css';
import 'nbdime/lib/styles/variables.css';
import 'nbdime/lib/styles/common.css';
import 'nbdime/lib/styles/diff.css';
import { requestJSON } from '../server/request';
import { IRunSummary } from '../store/types';

/** What GET /deardiary/nbdiff answers: nbdime's diff of `base` to the other notebook. */
export interface INotebookDiff {
  base: nbformat.INotebookContent;
  diff: IDiffEntry[];
}

/** nbdime's diff of two stored notebooks, by their blobs' sha256. */
export function fetchNotebookDiff(
  base: string,
  remote: string,
  settings?: ServerConnection.ISettings
): Promise<INotebookDiff> {
  const query = new URLSearchParams({ base, remote });
  return requestJSON<INotebookDiff>(`nbdiff?${query}`, {}, settings);
}

/** One side of the notebook comparison: a run and its stored notebook. */
export interface INotebookSide {
  run: IRunSummary;
  /** The notebook blob's sha256; null when the run kept no notebook bytes. */
  sha256: string | null;
}

/** What the notebook diff needs from the application. */
export interface INotebookDiffServices {
  rendermime: IRenderMimeRegistry;
  /** The app's inline editor factory; nbdime makes a plain CodeMirror one without it. */
  editorFactory?: CodeEditor.Factory;
  translator?: ITranslator;
  serverSettings?: ServerConnection.ISettings;
}

/** How many cells the diff adds, removes, changes and leaves alone. */
export interface ICellCounts {
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
}

/** Count a notebook diff model's cells by what happened to them. */
export function countCells(model: NotebookDiffModel): ICellCounts {
  const counts = { added: 0, removed: 0, changed: 0, unchanged: 0 };
  for (const cell of model.cells) {
    if (cell.added) {
      counts.added++;
    } else if (cell.deleted) {
      counts.removed++;
    } else if (cell.unchanged) {
      counts.unchanged++;
    } else {
      counts.changed++;
    }
  }
  return counts;
}

/**
 * The notebook section of the compare view. `ready` resolves once the diff is shown
 * (or a message tells why it is not); it never rejects.
 */
export class NotebookDiffView extends Panel {
  constructor(
    private readonly _trans: TranslationBundle,
    private readonly _services: INotebookDiffServices,
    a: INotebookSide,
    b: INotebookSide
  ) {
    super();
    this.addClass('jp-DearDiary-nbdiff');
    this._status = new Widget();
    this._status.addClass('jp-DearDiary-nbdiff-status');
    this._status.node.setAttribute('role', 'status');
    this.addWidget(this._status);
    this.ready = this._load(a, b);
  }

  /** Resolves when the diff (or the reason it is missing) is shown. */
  readonly ready: Promise<void>;

  private async _load(a: INotebookSide, b: INotebookSide): Promise<void> {
    const trans = this._trans;
    const unkept = [a, b].filter(side => side.sha256 === null);
    if (unkept.length) {
      this._say(
        unkept
          .map(side =>
            trans.__(
              "Run #%1 kept no copy of its notebook (the setting “Keep the notebook's bytes” was off), so the notebooks cannot be compared.",
              side.run.number
            )
          )
          .join(' ')
      );
      return;
    }
    if (a.sha256 === b.sha256) {
      this._say(trans.__('The notebook is the same in both runs.'));
      return;
    }
    this._say(trans.__('Comparing the notebooks…'));
    let data: INotebookDiff;
    let model: NotebookDiffModel;
    try {
      data = await fetchNotebookDiff(
        a.sha256!,
        b.sha256!,
        this._services.serverSettings
      );
      model = new NotebookDiffModel(data.base, data.diff);
    } catch (error) {
      this._say(
        trans.__(
          'The notebooks could not be compared: %1',
          (error as Error).message
        ),
        true
      );
      return;
    }
    if (this.isDisposed) {
      return;
    }
    if (model.metadata) {
      model.metadata.collapsibleHeader = trans.__('Notebook metadata changed');
    }
    const counts = countCells(model);
    this._say(
      trans.__(
        'Cells: %1 changed, %2 added, %3 removed, %4 unchanged.',
        counts.changed,
        counts.added,
        counts.removed,
        counts.unchanged
      )
    );
    if (counts.unchanged > 0) {
      this._status.node.append(' ', this._hideToggle());
    }
    const widget = new NotebookDiffWidget({
      model,
      rendermime: this._services.rendermime,
      editorFactory: this._services.editorFactory,
      translator: this._services.translator
    });
    const root = new Panel();
    root.addClass('nbdime-root');
    root.addClass('jp-DearDiary-nbdiff-root');
    root.addClass(HIDE_UNCHANGED);
    root.addWidget(widget);
    this.addWidget(root);
    this._root = root;
    try {
      await widget.init();
    } catch (error) {
      this._say(
        trans.__(
          'The notebook diff could not be shown: %1',
          (error as Error).message
        ),
        true
      );
    }
  }

  /** A checkbox that hides or shows the unchanged cells (hidden at first). */
  private _hideToggle(): HTMLElement {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.className = 'jp-DearDiary-nbdiff-hide';
    box.addEventListener('change', () =>
      this._root?.toggleClass(HIDE_UNCHANGED, box.checked)
    );
    label.append(box, ' ', this._trans.__('Hide unchanged cells'));
    return label;
  }

  private _say(text: string, error = false): void {
    this._status.node.textContent = text;
    this._status.node.setAttribute('role', error ? 'alert' : 'status');
    this._status.toggleClass('jp-DearDiary-warning', error);
  }

  private readonly _status: Widget;
  private _root: Panel | null = null;
}

const HIDE_UNCHANGED = 'jp-mod-hideUnchanged';
