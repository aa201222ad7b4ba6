/**
 * The restore dialogs' bodies: the pre-flight (findings, kernel, target folder) and the
 * RestoreResult; and the log of a Pkg.instantiate() run.
 */
import type { Dialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { IRestoreResult, IWorktreeResult } from '../server/api';
import { IFinding } from './plan';
import { ISpecMatch } from './kernelspec';
import { humanSize, shortHash } from '../widgets/humanize';

/** What the pre-flight dialog answers. */
export interface IPreflightChoice {
  target: string;
  /** The kernelspec name to reopen with; null: do not reopen. */
  kernel: string | null;
  instantiate: boolean;
  /** Carry the environments packages were loaded from along (when offered). */
  carry?: boolean;
}

export interface IPreflightOptions {
  trans: TranslationBundle;
  /** Findings for a kernel choice (they change with it). */
  findings: (kernel: ISpecMatch | null) => IFinding[];
  matches: ISpecMatch[];
  /** The choices shown (the defaults, or what the user chose before). */
  choice: IPreflightChoice;
  /** False when there is nothing to reopen (no stored notebook). */
  canReopen: boolean;
  /** False when there is no manifest (instantiate would resolve). */
  canInstantiate: boolean;
  /** The label of the "carry environments along" checkbox; absent: not offered. */
  carryLabel?: string;
}

export class PreflightBody
  extends Widget
  implements Dialog.IBodyWidget<IPreflightChoice>
{
  constructor(private readonly _o: IPreflightOptions) {
    super();
    const trans = _o.trans;
    this.addClass('jp-DearDiary-preflight');

    this._target.type = 'text';
    this._target.value = _o.choice.target;
    this._target.className = 'jp-mod-styled jp-DearDiary-target';
    this._target.setAttribute('aria-label', trans.__('Target folder'));
    this._target.spellcheck = false;
    this._kernel.className = 'jp-mod-styled jp-DearDiary-kernel';
    this._kernel.setAttribute('aria-label', trans.__('Reopen with kernel'));
    const none = new Option(trans.__('Do not reopen'), '');
    this._kernel.append(none);
    for (const m of _o.matches) {
      this._kernel.append(
        new Option(`${m.spec.display_name} (${m.spec.name})`, m.spec.name)
      );
    }
    this._kernel.value = (_o.canReopen && _o.choice.kernel) || '';
    this._kernel.disabled = !_o.canReopen;
    this._kernel.addEventListener('change', () => this._renderFindings());

    this._instantiate.type = 'checkbox';
    this._instantiate.checked = _o.choice.instantiate && _o.canInstantiate;
    this._instantiate.disabled = !_o.canInstantiate;

    const carry: HTMLElement[] = [];
    if (_o.carryLabel) {
      this._carry.type = 'checkbox';
      this._carry.className = 'jp-DearDiary-carry';
      this._carry.checked = _o.choice.carry ?? true;
      carry.push(checkbox(this._carry, _o.carryLabel));
    }
    this.node.append(
      labelled(trans.__('Target folder'), this._target),
      labelled(trans.__('Reopen with'), this._kernel),
      checkbox(
        this._instantiate,
        _o.canInstantiate
          ? trans.__(
              'Then install the packages (Pkg.instantiate(), never resolve or update)'
            )
          : trans.__(
              'Pkg.instantiate() is not offered: the run has no manifest'
            )
      ),
      ...carry,
      this._findings
    );
    this._findings.className = 'jp-DearDiary-findings';
    this._findings.setAttribute('aria-label', trans.__('Pre-flight findings'));
    this._renderFindings();
  }

  /** The choices so far (also after the dialog closed with another button). */
  getValue(): IPreflightChoice {
    return {
      target: this._target.value.trim().replace(/^\/+|\/+$/g, ''),
      kernel: this._kernel.value || null,
      instantiate: this._instantiate.checked,
      ...(this._o.carryLabel ? { carry: this._carry.checked } : {})
    };
  }

  /** Focus the target folder first (Enter restores, Escape cancels). */
  protected onAfterAttach(): void {
    this._target.focus();
  }

  private _renderFindings(): void {
    const kernel =
      this._o.matches.find(m => m.spec.name === this._kernel.value) ?? null;
    this._findings.replaceChildren(
      ...this._o.findings(kernel).map(f => {
        const li = document.createElement('li');
        li.className = `jp-DearDiary-finding jp-mod-${f.severity}`;
        li.dataset.code = f.code;
        li.textContent = f.message;
        return li;
      })
    );
  }

  private readonly _target = document.createElement('input');
  private readonly _kernel = document.createElement('select');
  private readonly _instantiate = document.createElement('input');
  private readonly _carry = document.createElement('input');
  private readonly _findings = document.createElement('ul');
}

/**
 * A RestoreResult as a person reads it: hashes short (the whole one in the title, copied
 * on click), sizes in kB/MB (the exact count in the title), a check mark for verified.
 */
export function resultBody(
  trans: TranslationBundle,
  result: IRestoreResult,
  language?: string
): Widget {
  const body = new Widget();
  body.addClass('jp-DearDiary-restoreResult');
  const git: Array<string | HTMLElement> = result.git_sha
    ? [
        hashButton(trans, result.git_sha, trans.__('git commit')),
        result.git_dirty ? trans.__(' (dirty)') : ''
      ]
    : [trans.__('none')];
  const rows: Array<[string, string | Array<string | HTMLElement>]> = [
    [trans.__('Folder'), result.target || '/'],
    [trans.__('Project'), result.project_path ?? trans.__('none')],
    ['Julia', result.julia_version ?? '?'],
    [trans.__('Git'), git],
    [trans.__('Notebook'), result.entrypoint ?? trans.__('not restored')]
  ];
  body.node.append(table(rows));
  const files = table(
    result.files.map(f => {
      const size = document.createElement('span');
      size.textContent = humanSize(f.size, language);
      size.title = trans._n('%1 byte', '%1 bytes', f.size);
      const check = document.createElement('span');
      check.className = f.verified
        ? 'jp-DearDiary-verified'
        : 'jp-DearDiary-unverified';
      check.textContent = f.verified
        ? `\u2714\u00a0${trans.__('verified')}`
        : `\u2718\u00a0${trans.__('NOT verified')}`;
      check.title = f.verified
        ? trans.__(
            'The server read the written file back: its sha256 is the captured one'
          )
        : trans.__(
            'The written file does not have the captured sha256: do not trust it'
          );
      return [
        f.name,
        [size],
        [hashButton(trans, f.sha256, `sha256 ${f.name}`)],
        [check]
      ];
    }),
    [trans.__('File'), trans.__('Size'), 'sha256', trans.__('Check')]
  );
  files.classList.add('jp-DearDiary-restoredFiles');
  body.node.append(files);
  return body;
}

/**
 * A short hash (SHORT_HASH hex digits) that shows the whole one on hover and copies it on
 * click (or Enter), saying so in a notification.
 */
export function hashButton(
  trans: TranslationBundle,
  hash: string,
  what: string
): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'jp-DearDiary-hash';
  button.textContent = shortHash(hash);
  button.title = hash;
  button.dataset.hash = hash;
  button.setAttribute('aria-label', trans.__('%1 %2: copy', what, hash));
  button.addEventListener('click', async () => {
    // Loaded on use: these views are also rendered where apputils is not (tests).
    const { Clipboard, Notification } = await import('@jupyterlab/apputils');
    Clipboard.copyToSystem(hash);
    Notification.info(trans.__('Copied %1: %2', what, hash), {
      autoClose: 3000
    });
  });
  return button;
}

/** What `git worktree` + `git apply` did, as a person reads it. */
export function worktreeBody(
  trans: TranslationBundle,
  result: IWorktreeResult
): Widget {
  const body = new Widget();
  body.addClass('jp-DearDiary-worktreeResult');
  const patch = result.patch_applied
    ? trans.__('applied to %1 files', result.applied_files.length)
    : result.patch_reason === 'empty' || result.patch_reason === null
      ? trans.__('none stored (the run had no uncommitted changes)')
      : result.patch_reason === 'truncated'
        ? trans.__(
            'not applied: the stored patch stopped at the size cap, so the files stay at the commit'
          )
        : trans.__('not applied cleanly: conflicts below');
  body.node.append(
    table([
      [trans.__('Worktree'), result.target],
      [trans.__('Commit'), result.sha],
      [trans.__('Patch'), patch]
    ])
  );
  const problems = [
    ...result.conflicts.map(c => `${c.path}: ${c.message}`),
    ...result.skipped_binary.map(p =>
      trans.__('%1: binary change, not in the stored patch', p)
    ),
    ...result.lfs_pointers.map(p =>
      trans.__(
        '%1: a git-lfs pointer (run `git lfs checkout` or `git lfs pull` in the worktree)',
        p
      )
    )
  ];
  if (problems.length) {
    const list = document.createElement('ul');
    list.className = 'jp-DearDiary-conflicts';
    for (const p of problems) {
      const li = document.createElement('li');
      li.textContent = p;
      list.append(li);
    }
    body.node.append(list);
  }
  return body;
}

/** The streaming log of one Pkg.instantiate() (read-only text, polite live region). */
export class InstantiateLog extends Widget {
  constructor() {
    super({ node: document.createElement('pre') });
    this.addClass('jp-DearDiary-instantiateLog');
    this.node.setAttribute('role', 'log');
    this.node.setAttribute('aria-live', 'polite');
    this.node.tabIndex = 0;
  }

  append(text: string): void {
    this.node.append(document.createTextNode(stripAnsi(text)));
    this.node.scrollTop = this.node.scrollHeight;
  }
}

/** Terminal colour and cursor codes (Julia runs with --color=yes under IJulia). */
export function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
}

function labelled(text: string, ...controls: HTMLElement[]): HTMLElement {
  const label = document.createElement('label');
  label.className = 'jp-DearDiary-field';
  const span = document.createElement('span');
  span.textContent = text;
  label.append(span, ...controls);
  return label;
}

function checkbox(input: HTMLInputElement, text: string): HTMLElement {
  const label = document.createElement('label');
  label.className = 'jp-DearDiary-check';
  label.append(input, document.createTextNode(` ${text}`));
  return label;
}

/** A cell: text, or nodes (text between them). */
type Cell = string | Array<string | HTMLElement>;

function table(rows: Cell[][], head?: string[]): HTMLTableElement {
  const t = document.createElement('table');
  t.className = 'jp-DearDiary-resultTable';
  if (head) {
    const tr = t.createTHead().insertRow();
    for (const h of head) {
      const th = document.createElement('th');
      th.textContent = h;
      tr.append(th);
    }
  }
  const tbody = t.createTBody();
  for (const row of rows) {
    const tr = tbody.insertRow();
    row.forEach((cell, i) => {
      const td = document.createElement(i === 0 && !head ? 'th' : 'td');
      if (typeof cell === 'string') {
        td.textContent = cell;
      } else {
        td.append(...cell);
      }
      tr.append(td);
    });
  }
  return t;
}
