/**
 * Every captured field of one run; the files (viewable read-only), git state and patch,
 * system facts, restorability hints, the note (editable), and a Julia snippet that
 * restores the run with plain Pkg outside JupyterLab.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { hintMessage } from '../manifest/words';
import { IHint } from '../manifest/hints';
import { pathToString, PathValue } from '../kernel/protocol';
import {
  ISnippetProblem,
  juliaStringLiteral,
  snippetPlan,
  snippetProblems
} from '../restore/snippet';
import { IRunDetail, IRunFile } from '../store/types';
import { kernelspecRows, outsideSection } from './loaded';
import { formatTime } from './runlist';

/** What the details view asks of the panel. */
export interface IDetailsActions {
  saveNote(run: IRunDetail, note: string): Promise<void>;
  deleteRun(run: IRunDetail): Promise<void>;
  viewFile(run: IRunDetail, file: IRunFile): Promise<void>;
  copySnippet(run: IRunDetail): Promise<void>;
  restore(run: IRunDetail): Promise<void>;
}

export class RunDetails extends Widget {
  constructor(
    private readonly _trans: TranslationBundle,
    private readonly _actions: IDetailsActions
  ) {
    super();
    this.addClass('jp-DearDiary-details');
    this.render(null, []);
  }

  get run(): IRunDetail | null {
    return this._run;
  }

  /** Show a run (null: a hint to pick one). */
  render(run: IRunDetail | null, hints: IHint[]): void {
    this._run = run;
    const trans = this._trans;
    if (!run) {
      this.node.replaceChildren(
        el(
          'p',
          'jp-DearDiary-empty',
          trans.__('Select a run to see everything it recorded.')
        )
      );
      return;
    }
    const c = run.capture;
    const parts: HTMLElement[] = [];
    parts.push(
      el(
        'h3',
        'jp-DearDiary-details-title',
        trans.__(
          'Run #%1 (iteration %2) · %3',
          run.number,
          run.id,
          run.notebook_path
        )
      ),
      facts([
        [
          trans.__('Recorded'),
          `${formatTime(run.created_at)} (${run.trigger})`
        ],
        [trans.__('Status'), run.status]
      ])
    );

    // Note
    const note = document.createElement('textarea');
    note.className = 'jp-DearDiary-note';
    note.value = run.note;
    note.rows = 2;
    note.setAttribute('aria-label', trans.__('Note of run #%1', run.number));
    note.placeholder = trans.__('Add a note…');
    const save = button(trans.__('Save note'), () =>
      this._actions.saveNote(run, note.value)
    );
    save.classList.add('jp-DearDiary-saveNote');
    parts.push(section(trans.__('Note'), note, save));

    // Actions
    const reproduce = section(
      trans.__('Reproduce'),
      button(
        trans.__('Restore…'),
        () => this._actions.restore(run),
        'jp-mod-accept jp-DearDiary-restore'
      ),
      button(trans.__('Copy Julia snippet'), () =>
        this._copySnippet(run, reproduce)
      ),
      button(
        trans.__('Delete run…'),
        () => this._actions.deleteRun(run),
        'jp-mod-warn'
      )
    );
    parts.push(reproduce);

    if (hints.length) {
      const list = document.createElement('ul');
      list.className = 'jp-DearDiary-hints';
      for (const hint of hints) {
        list.append(
          el(
            'li',
            `jp-DearDiary-hint jp-mod-${hint.severity}`,
            hintMessage(trans, hint)
          )
        );
      }
      parts.push(section(trans.__('Restorability'), list));
    }

    parts.push(
      section(
        trans.__('Environment'),
        facts([
          ['Julia', c.julia_version],
          [
            trans.__('Project'),
            c.project
              ? path(c.project.path) +
                (c.project.is_global ? trans.__(' (global environment)') : '') +
                (c.project.exists ? '' : trans.__(' (did not exist)'))
              : trans.__('none')
          ],
          [
            trans.__('Manifest'),
            c.manifest
              ? `${path(c.manifest.path)} (${c.manifest.found_by})`
              : trans.__('none')
          ],
          [
            trans.__('Kernel'),
            `${run.kernel.display_name} (${run.kernel.name})`
          ],
          ...kernelspecRows(trans, run.kernel.spec)
        ])
      )
    );

    const files = document.createElement('table');
    files.className = 'jp-DearDiary-files';
    for (const file of run.files) {
      const row = files.insertRow();
      row.insertCell().textContent = file.name;
      row.insertCell().textContent = trans.__('%1 B', file.size);
      const sha = row.insertCell();
      sha.textContent = file.sha256.slice(0, 12) + '…';
      sha.title = file.sha256;
      sha.className = 'jp-DearDiary-sha';
      row
        .insertCell()
        .append(
          button(trans.__('View'), () => this._actions.viewFile(run, file))
        );
    }
    parts.push(
      section(
        trans.__('Files'),
        run.files.length
          ? files
          : el('p', '', trans.__('No files were captured.'))
      )
    );

    const outside = outsideSection(trans, run);
    if (outside) {
      parts.push(outside);
    }

    parts.push(this._git(run));

    parts.push(
      section(
        trans.__('Notebook'),
        facts([
          [trans.__('Path'), run.notebook.path],
          [trans.__('Size'), trans.__('%1 B', run.notebook.size)],
          ['sha256', run.notebook.sha256],
          [
            trans.__('Bytes kept'),
            run.notebook.stored ? trans.__('yes') : trans.__('no')
          ],
          [
            trans.__('Unsaved changes'),
            !run.notebook.unsaved_changes
              ? trans.__('no')
              : run.notebook.origin === 'editor'
                ? trans.__('yes (the editor\u2019s content was recorded)')
                : trans.__('yes (the saved version was recorded)')
          ]
        ])
      )
    );

    const s = c.sys;
    parts.push(
      section(
        trans.__('System'),
        facts([
          ['Sys.KERNEL', s.kernel],
          ['Sys.ARCH', s.arch],
          ['Sys.MACHINE', s.machine],
          ['Sys.CPU_THREADS', String(s.cpu_threads)],
          ['Threads.nthreads()', String(s.nthreads)],
          ['Sys.BINDIR', path(s.bindir)],
          ['DEPOT_PATH', s.depot_path.map(path).join('\n')],
          ['LOAD_PATH', s.load_path.map(path).join('\n')],
          ['pwd()', path(s.pwd)]
        ])
      )
    );
    this.node.replaceChildren(...parts);
  }

  /** Copy the snippet, or say in `where` why this run's files cannot go into one. */
  private async _copySnippet(
    run: IRunDetail,
    where: HTMLElement
  ): Promise<void> {
    where.querySelector('.jp-DearDiary-snippetRefused')?.remove();
    const problems = snippetProblems(snippetPlan(run).files);
    if (!problems.length) {
      return this._actions.copySnippet(run);
    }
    const list = document.createElement('ul');
    for (const problem of problems) {
      list.append(el('li', '', this._problem(problem)));
    }
    const refused = document.createElement('div');
    refused.className = 'jp-DearDiary-warning jp-DearDiary-snippetRefused';
    refused.setAttribute('role', 'alert');
    refused.append(
      el(
        'p',
        '',
        this._trans.__(
          'No snippet was copied: the store of run #%1 holds values that are not safe to put in Julia code. It may have been made by someone else.',
          run.number
        )
      ),
      list
    );
    where.append(refused);
  }

  private _problem(problem: ISnippetProblem): string {
    const trans = this._trans;
    const name = juliaStringLiteral(problem.name);
    switch (problem.code) {
      case 'bad-sha256':
        return trans.__(
          'The sha256 of %1 is not 64 lowercase hexadecimal digits.',
          name
        );
      case 'duplicate-name':
        return trans.__('%1 is listed twice.', name);
      default:
        return trans.__(
          '%1 is not a plain file name (no folders, no "." or "..", no control or bidi characters).',
          name
        );
    }
  }

  private _git(run: IRunDetail): HTMLElement {
    const trans = this._trans;
    if (run.git.state === 'unknown') {
      return section(
        trans.__('Git'),
        el(
          'p',
          'jp-DearDiary-warning',
          trans.__('Unknown: %1', run.git.message)
        )
      );
    }
    const g = run.git.git;
    if (!g.repo) {
      return section(
        trans.__('Git'),
        el('p', '', trans.__('The notebook was not in a git repository.'))
      );
    }
    const body: HTMLElement[] = [
      facts([
        ['HEAD', g.head_sha ?? ''],
        [trans.__('Branch'), g.branch ?? trans.__('(detached)')],
        [trans.__('Remote'), g.remote_url ?? trans.__('none')],
        [trans.__('State'), g.dirty ? trans.__('dirty') : trans.__('clean')],
        [trans.__('Untracked files'), String(g.untracked_count ?? 0)]
      ])
    ];
    if (g.dirty_files?.length) {
      const list = document.createElement('ul');
      list.className = 'jp-DearDiary-dirtyFiles';
      for (const f of g.dirty_files) {
        list.append(el('li', '', `${f.status.padEnd(2)} ${f.path}`));
      }
      body.push(list);
    }
    if (g.patch) {
      const details = document.createElement('details');
      details.append(
        el(
          'summary',
          '',
          g.truncated
            ? trans.__('Patch (cut at the size limit)')
            : trans.__('Patch')
        ),
        el('pre', 'jp-DearDiary-patch', g.patch)
      );
      body.push(details);
    }
    return section(trans.__('Git'), ...body);
  }

  private _run: IRunDetail | null = null;
}

function path(value: PathValue): string {
  return pathToString(value);
}

function el(tag: string, className: string, text: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function section(title: string, ...children: HTMLElement[]): HTMLElement {
  const node = document.createElement('section');
  node.className = 'jp-DearDiary-section';
  node.append(el('h4', '', title), ...children);
  return node;
}

function facts(rows: Array<[string, string]>): HTMLElement {
  const dl = document.createElement('dl');
  dl.className = 'jp-DearDiary-facts';
  for (const [key, value] of rows) {
    dl.append(el('dt', '', key), el('dd', '', value));
  }
  return dl;
}

function button(
  label: string,
  onClick: () => Promise<void>,
  extra = ''
): HTMLButtonElement {
  const node = document.createElement('button');
  node.className =
    `jp-Button jp-mod-styled jp-mod-small jp-DearDiary-button ${extra}`.trim();
  node.textContent = label;
  node.addEventListener('click', () => void onClick());
  return node;
}
