/**
 * Which notebook a restore writes: the editor's content at snapshot time (what the
 * outputs came from; the default) or the saved file, kept too when it differed. The
 * pre-flight offers the choice only then; the result says which was written.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { IRunDetail } from '../store/types';
import { IPreflightOptions, PreflightBody } from './views';

/** 'editor': the run's notebook (the editor's content); 'saved': the saved file. */
export type NotebookChoice = 'editor' | 'saved';

/** The run has a saved file to offer (it differed from the editor's and was kept). */
export function offersSaved(run: IRunDetail): boolean {
  return Boolean(run.notebook.stored && run.notebook.saved?.stored);
}

/** The run with the chosen notebook's bytes as its notebook (what the restore writes). */
export function withNotebook(
  run: IRunDetail,
  choice: NotebookChoice
): IRunDetail {
  const saved = run.notebook.saved;
  if (choice !== 'saved' || !saved?.stored) {
    return run;
  }
  return {
    ...run,
    notebook: { ...run.notebook, sha256: saved.sha256, size: saved.size }
  };
}

/** What was written, in words (null: no notebook was written). */
export function writtenNotebook(
  trans: TranslationBundle,
  run: IRunDetail,
  choice: NotebookChoice
): string | null {
  if (!run.notebook.stored) {
    return null;
  }
  if (choice === 'saved' && offersSaved(run)) {
    return trans.__(
      'the saved file (it differed from the editor: the outputs came from the editor’s content)'
    );
  }
  return run.notebook.origin === 'editor'
    ? trans.__(
        'the notebook as it was in the editor (what the outputs came from)'
      )
    : trans.__('the notebook as it was saved when the run was recorded');
}

/** The pre-flight with "write the saved file instead" when the run offers it. */
export class NotebookChoiceBody extends PreflightBody {
  constructor(
    options: IPreflightOptions,
    run: IRunDetail,
    choice: NotebookChoice
  ) {
    super(options);
    if (!offersSaved(run)) {
      return;
    }
    const trans = options.trans;
    this._saved.type = 'checkbox';
    this._saved.className = 'jp-DearDiary-savedNotebook';
    this._saved.checked = choice === 'saved';
    const label = document.createElement('label');
    label.className = 'jp-DearDiary-check';
    label.append(
      this._saved,
      ' ',
      trans.__(
        'Write the saved file instead (the editor had %1; the outputs came from the editor’s content)',
        run.notebook.unsaved_changes
          ? trans.__('unsaved edits')
          : trans.__('other metadata or outputs')
      )
    );
    const findings = this.node.querySelector('.jp-DearDiary-findings');
    this.node.insertBefore(label, findings);
    this._offered = true;
  }

  /** The notebook chosen. */
  get notebook(): NotebookChoice {
    return this._offered && this._saved.checked ? 'saved' : 'editor';
  }

  private _offered = false;
  private readonly _saved = document.createElement('input');
}

/** A line for the restore result: which notebook was written. */
export function writtenLine(
  text: string,
  trans: TranslationBundle
): HTMLParagraphElement {
  const line = document.createElement('p');
  line.className = 'jp-DearDiary-notebookWritten';
  line.textContent = trans.__('Notebook written: %1', text);
  return line;
}
