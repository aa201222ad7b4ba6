/**
 * The run list: runs grouped by notebook, newest first, rendered as a virtual list (only
 * the rows in view exist in the DOM, so 10,000 runs cost what 30 do). Keyboard: arrows
 * move, Enter opens the details, Space marks a run for comparison.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import type { StaleManifests, StaleReason } from '../manifest/stale';
import { hintMessage } from '../manifest/words';
import { IRunSummary } from '../store/types';
import { fullTime, relativeTime, shortJulia } from './humanize';

export const ROW_HEIGHT = 44;
const OVERSCAN = 8;
/** How many of a notebook's newest runs its timeline shows. */
export const TIMELINE_RUNS = 24;
/** How often the relative times ("3 min. ago") are written again. */
const CLOCK_MS = 60000;

type Row =
  | { kind: 'group'; notebook: string; count: number }
  | { kind: 'run'; run: IRunSummary };

export class RunList extends Widget {
  constructor(private readonly _trans: TranslationBundle) {
    super();
    this.addClass('jp-DearDiary-runList');
    this.node.tabIndex = 0;
    this.node.setAttribute('role', 'listbox');
    this.node.setAttribute('aria-label', _trans.__('Recorded runs'));
    this.node.setAttribute('aria-multiselectable', 'true');
    this._spacer.className = 'jp-DearDiary-runList-spacer';
    this._window.className = 'jp-DearDiary-runList-window';
    this._spacer.appendChild(this._window);
    this.node.appendChild(this._spacer);
    this.node.addEventListener('scroll', () => this._render());
    this.node.addEventListener('keydown', event => this._onKey(event));
    this.node.addEventListener('click', event => this._onClick(event));
  }

  /**
   * The language of the relative times (the translator's, a BCP 47 tag); undefined: the
   * browser's.
   */
  get language(): string | undefined {
    return this._language;
  }

  set language(value: string | undefined) {
    this._language = value;
    this._nodes.clear();
    this._render();
  }

  protected onAfterAttach(): void {
    // Relative times age: write the rows in view again every minute.
    this._clock ??= setInterval(() => {
      this._nodes.clear();
      this._render();
    }, CLOCK_MS);
  }

  protected onBeforeDetach(): void {
    if (this._clock !== null) {
      clearInterval(this._clock);
      this._clock = null;
    }
  }

  /** What the list says when it has no runs (null: how to record one). */
  set emptyText(value: string | null) {
    this._emptyText = value;
    this._render();
  }

  /** The selected run changed (null: nothing selected). */
  get selectionChanged(): ISignal<this, IRunSummary | null> {
    return this._selectionChanged;
  }

  /** The runs marked for comparison changed. */
  get markedChanged(): ISignal<this, IRunSummary[]> {
    return this._markedChanged;
  }

  /** Enter on a run. */
  get activated(): ISignal<this, IRunSummary> {
    return this._activated;
  }

  get selected(): IRunSummary | null {
    return this._selected;
  }

  get marked(): IRunSummary[] {
    return this._rows.flatMap(r =>
      r.kind === 'run' && this._marked.has(r.run.id) ? [r.run] : []
    );
  }

  /**
   * Show these runs (already filtered, in RUN_ORDER: newest first), grouped by notebook.
   * A notebook's first run in the list is its newest, so the groups come in order too.
   */
  setRuns(runs: IRunSummary[]): void {
    const groups = new Map<string, IRunSummary[]>();
    let selected: IRunSummary | null = null;
    const marked = new Set<number>();
    for (const run of runs) {
      const group = groups.get(run.notebook_path);
      if (group) {
        group.push(run);
      } else {
        groups.set(run.notebook_path, [run]);
      }
      if (run.id === this._selected?.id) {
        selected = run;
      }
      if (this._marked.has(run.id)) {
        marked.add(run.id);
      }
    }
    this._rows = [];
    for (const [notebook, list] of groups) {
      this._rows.push({ kind: 'group', notebook, count: list.length });
      for (const run of list) {
        this._rows.push({ kind: 'run', run });
      }
    }
    if (this._selected && !selected) {
      this._select(null);
    } else {
      this._selected = selected;
    }
    if (marked.size !== this._marked.size) {
      this._marked = marked;
      this._markedChanged.emit(this.marked);
    }
    this._spacer.style.height = `${this._rows.length * ROW_HEIGHT}px`;
    this._empty = runs.length === 0;
    this._render();
  }

  /** Select a run by id (scrolls it into view). */
  select(id: number): void {
    const index = this._rows.findIndex(
      r => r.kind === 'run' && r.run.id === id
    );
    if (index >= 0) {
      this._select((this._rows[index] as { run: IRunSummary }).run);
      this._scrollTo(index);
    }
  }

  protected onResize(): void {
    this._render();
  }

  protected onAfterShow(): void {
    this._render();
  }

  private _render(): void {
    const height = this.node.clientHeight || 600;
    const first = Math.max(
      0,
      Math.floor(this.node.scrollTop / ROW_HEIGHT) - OVERSCAN
    );
    const last = Math.min(
      this._rows.length,
      Math.ceil((this.node.scrollTop + height) / ROW_HEIGHT) + OVERSCAN
    );
    this._window.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    if (this._empty) {
      this._nodes.clear();
      this._window.replaceChildren(this._emptyNode());
      return;
    }
    // A row whose content did not change keeps its node: a click that lands while the
    // list re-renders (a scroll, a background refresh) is never lost on a replaced node.
    const nodes = new Map<string, { node: HTMLElement; signature: string }>();
    const wanted = this._rows.slice(first, last).map((row, i) => {
      const index = first + i;
      const key = row.kind === 'run' ? `run:${row.run.id}` : `group:${index}`;
      const signature = JSON.stringify([
        index,
        row,
        row.kind === 'run' && this._selected?.id === row.run.id,
        row.kind === 'run' && this._marked.has(row.run.id),
        row.kind === 'run' ? (this._stale?.(row.run) ?? null) : null
      ]);
      const old = this._nodes.get(key);
      const node =
        old?.signature === signature ? old.node : this._renderRow(row, index);
      nodes.set(key, { node, signature });
      return node;
    });
    this._nodes = nodes;
    const children = this._window.children;
    wanted.forEach((node, i) => {
      if (children[i] !== node) {
        this._window.insertBefore(node, children[i] ?? null);
      }
    });
    while (children.length > wanted.length) {
      children[children.length - 1].remove();
    }
  }

  private _emptyNode(): HTMLElement {
    const node = document.createElement('div');
    node.className = 'jp-DearDiary-empty';
    node.textContent =
      this._emptyText ??
      this._trans.__(
        'No runs. Open a Julia notebook: its first execution is recorded, or use the Snapshot button.'
      );
    return node;
  }

  private _renderRow(row: Row, index: number): HTMLElement {
    const node = document.createElement('div');
    node.style.height = `${ROW_HEIGHT}px`;
    node.dataset.index = String(index);
    if (row.kind === 'group') {
      return this._renderGroup(node, row, index);
    }
    const run = row.run;
    const selected = this._selected?.id === run.id;
    const marked = this._marked.has(run.id);
    node.className = 'jp-DearDiary-run';
    node.id = `jp-DearDiary-run-${run.id}`;
    node.setAttribute('role', 'option');
    node.setAttribute('aria-selected', String(selected));
    node.classList.toggle('jp-mod-selected', selected);
    node.classList.toggle('jp-mod-marked', marked);
    node.dataset.runId = String(run.id);

    const top = document.createElement('div');
    top.className = 'jp-DearDiary-run-top';
    const mark = document.createElement('input');
    mark.type = 'checkbox';
    mark.tabIndex = -1;
    mark.checked = marked;
    mark.className = 'jp-DearDiary-run-mark';
    mark.setAttribute(
      'aria-label',
      this._trans.__('Compare run #%1', run.number)
    );
    const number = text('jp-DearDiary-run-number', `#${run.number}`);
    number.title = this._trans.__(
      'Run #%1 of this notebook; stored as iteration %2 (its restore folder is iteration_%2)',
      run.number,
      run.id
    );
    const time = text(
      'jp-DearDiary-run-time',
      relativeTime(run.created_at, new Date(), this._language)
    );
    time.title = fullTime(run.created_at, this._language);
    top.append(mark, number, time);
    if (run.git_sha) {
      const sha = text('jp-DearDiary-run-sha', run.git_sha.slice(0, 7));
      sha.title = this._trans.__('git commit %1', run.git_sha);
      top.append(sha);
    }
    if (run.note) {
      const note = text('jp-DearDiary-run-note', run.note);
      note.title = run.note;
      top.append(note);
    }

    // The badges on their own line, under the title: never cut by a long note or date.
    const bottom = document.createElement('div');
    bottom.className = 'jp-DearDiary-run-bottom';
    const julia = shortJulia(run.julia_version);
    const badges: Array<[string, string, string]> = [
      ['julia', julia, this._trans.__('Julia %1', julia)]
    ];
    const change = this._changeOf(index);
    if (change) {
      badges.push([
        'envchange',
        this._trans.__('env changed'),
        this._trans.__(
          'The environment changed since run #%1: %2',
          change.previous.number,
          change.what.join(', ')
        )
      ]);
    }
    if (run.status !== 'recorded') {
      badges.push([
        'status',
        run.status,
        this._trans.__('Status: %1', run.status)
      ]);
    }
    if (run.git_dirty) {
      badges.push([
        'dirty',
        this._trans.__('dirty'),
        this._trans.__('Uncommitted changes in the repository')
      ]);
    }
    if (run.is_global_env) {
      badges.push([
        'global',
        this._trans.__('global env'),
        this._trans.__('Ran in the global environment')
      ]);
    }
    if (!run.has_manifest) {
      badges.push([
        'nomanifest',
        this._trans.__('no manifest'),
        this._trans.__('No Manifest.toml: versions are not pinned')
      ]);
    }
    const stale = this._stale?.(run);
    if (stale?.length) {
      badges.push([
        'stale',
        this._trans.__('stale manifest'),
        staleSentence(this._trans, stale)
      ]);
    }
    for (const [kind, label, title] of badges) {
      const badge = text(
        `jp-DearDiary-badge jp-DearDiary-badge-${kind}`,
        label
      );
      badge.title = title;
      bottom.append(badge);
    }
    bottom.append(text('jp-DearDiary-run-trigger', run.trigger));
    node.append(top, bottom);
    node.setAttribute(
      'aria-label',
      this._trans.__(
        'Run %1 of %2, %3, Julia %4',
        run.number,
        run.notebook_path,
        relativeTime(run.created_at, new Date(), this._language),
        julia
      ) +
        (change
          ? `, ${this._trans.__('environment changed: %1', change.what.join(', '))}`
          : '') +
        (run.note ? `, ${run.note}` : '')
    );
    return node;
  }

  /**
   * A notebook's heading: its path, and a timeline of its newest runs (oldest left), one
   * mark per run, its colour changing where the environment changed. A mark's title says
   * which run and what changed; a click selects the run (keyboard: the run's own row says
   * "environment changed").
   */
  private _renderGroup(
    node: HTMLElement,
    row: { notebook: string; count: number },
    index: number
  ): HTMLElement {
    const trans = this._trans;
    node.className = 'jp-DearDiary-group';
    node.setAttribute('role', 'presentation');
    const name = text('jp-DearDiary-group-name', row.notebook);
    name.title = trans._n('%1 run', '%1 runs', row.count);
    const timeline = document.createElement('div');
    timeline.className = 'jp-DearDiary-timeline';
    const shown = Math.min(row.count, TIMELINE_RUNS);
    let era = 0;
    let changes = 0;
    for (let i = index + shown; i > index; i--) {
      const run = (this._rows[i] as { run: IRunSummary }).run;
      const change = this._changeOf(i);
      if (change) {
        era += 1;
        changes += 1;
      }
      const mark = document.createElement('span');
      mark.className = `jp-DearDiary-timeline-mark jp-mod-era${era % 4}`;
      mark.classList.toggle('jp-mod-changed', change !== null);
      mark.dataset.runId = String(run.id);
      mark.title = change
        ? trans.__(
            'Run #%1, %2: the environment changed (%3)',
            run.number,
            relativeTime(run.created_at, new Date(), this._language),
            change.what.join(', ')
          )
        : trans.__(
            'Run #%1, %2: same environment',
            run.number,
            relativeTime(run.created_at, new Date(), this._language)
          );
      timeline.append(mark);
    }
    timeline.setAttribute(
      'aria-label',
      trans._n(
        'Environment timeline of the last run: %2 changes',
        'Environment timeline of the last %1 runs: %2 changes',
        shown,
        changes
      )
    );
    node.append(name, timeline);
    return node;
  }

  /**
   * What changed in the environment between the run at `index` and the notebook's run
   * before it (the next row; null: nothing, or no run before it in the list).
   */
  private _changeOf(
    index: number
  ): { previous: IRunSummary; what: string[] } | null {
    const row = this._rows[index];
    const next = this._rows[index + 1];
    if (row?.kind !== 'run' || next?.kind !== 'run') {
      return null;
    }
    const what = environmentChanges(this._trans, next.run, row.run);
    return what.length ? { previous: next.run, what } : null;
  }

  /**
   * What the "stale manifest" badge of a run says: why its manifest does not match its
   * Project.toml (no badge for none, or undefined while not known). Setting it again
   * re-renders the rows in view whose answer changed (see `showStaleManifests`).
   */
  set staleCheck(check: StaleCheck | null) {
    this._stale = check;
    this._render();
  }

  private _onClick(event: MouseEvent): void {
    const mark = (event.target as HTMLElement).closest<HTMLElement>(
      '.jp-DearDiary-timeline-mark'
    );
    if (mark) {
      this.select(Number(mark.dataset.runId));
      this.node.focus();
      return;
    }
    const row = (event.target as HTMLElement).closest<HTMLElement>(
      '.jp-DearDiary-run'
    );
    if (!row) {
      return;
    }
    const index = Number(row.dataset.index);
    const run = (this._rows[index] as { run: IRunSummary }).run;
    if (
      (event.target as HTMLElement).classList.contains(
        'jp-DearDiary-run-mark'
      ) ||
      event.ctrlKey ||
      event.metaKey
    ) {
      this._toggleMark(run);
    } else {
      this._select(run);
    }
    this.node.focus();
  }

  private _onKey(event: KeyboardEvent): void {
    const runs = this._rows.flatMap((r, i) => (r.kind === 'run' ? [i] : []));
    if (runs.length === 0) {
      return;
    }
    const current = this._selected
      ? this._rows.findIndex(
          r => r.kind === 'run' && r.run.id === this._selected!.id
        )
      : -1;
    const position = runs.indexOf(current);
    let next: number | null = null;
    switch (event.key) {
      case 'ArrowDown':
        next = runs[Math.min(runs.length - 1, position + 1)];
        break;
      case 'ArrowUp':
        next = runs[Math.max(0, position - 1)];
        break;
      case 'Home':
        next = runs[0];
        break;
      case 'End':
        next = runs[runs.length - 1];
        break;
      case 'PageDown':
        next = runs[Math.min(runs.length - 1, position + 10)];
        break;
      case 'PageUp':
        next = runs[Math.max(0, position - 10)];
        break;
      case ' ':
        if (this._selected) {
          this._toggleMark(this._selected);
        }
        event.preventDefault();
        return;
      case 'Enter':
        if (this._selected) {
          this._activated.emit(this._selected);
        }
        event.preventDefault();
        return;
      default:
        return;
    }
    event.preventDefault();
    if (next !== undefined && next !== null) {
      this._select((this._rows[next] as { run: IRunSummary }).run);
      this._scrollTo(next);
    }
  }

  private _scrollTo(index: number): void {
    const top = index * ROW_HEIGHT;
    const height = this.node.clientHeight || 600;
    if (top < this.node.scrollTop) {
      this.node.scrollTop = top;
    } else if (top + ROW_HEIGHT > this.node.scrollTop + height) {
      this.node.scrollTop = top + ROW_HEIGHT - height;
    }
    this._render();
  }

  private _select(run: IRunSummary | null): void {
    if (this._selected?.id === run?.id) {
      return;
    }
    this._selected = run;
    this.node.setAttribute(
      'aria-activedescendant',
      run ? `jp-DearDiary-run-${run.id}` : ''
    );
    this._render();
    this._selectionChanged.emit(run);
  }

  private _toggleMark(run: IRunSummary): void {
    if (this._marked.has(run.id)) {
      this._marked.delete(run.id);
    } else {
      this._marked.add(run.id);
    }
    this._render();
    this._markedChanged.emit(this.marked);
  }

  private _rows: Row[] = [];
  private _language: string | undefined = undefined;
  private _clock: ReturnType<typeof setInterval> | null = null;
  private _emptyText: string | null = null;
  private _empty = true;
  private _selected: IRunSummary | null = null;
  private _marked = new Set<number>();
  private _nodes = new Map<string, { node: HTMLElement; signature: string }>();
  private _stale: StaleCheck | null = null;
  private _spacer = document.createElement('div');
  private _window = document.createElement('div');
  private _selectionChanged = new Signal<this, IRunSummary | null>(this);
  private _markedChanged = new Signal<this, IRunSummary[]>(this);
  private _activated = new Signal<this, IRunSummary>(this);
}

/** The reasons of a run's stale-manifest badge. */
export type StaleCheck = (
  run: IRunSummary
) => readonly StaleReason[] | undefined;

/**
 * Show in `list` the stale-manifest badges `stale` computes: lazily, only for the rows
 * the list renders, each run once; the rows are re-rendered as answers come in.
 */
export function showStaleManifests(list: RunList, stale: StaleManifests): void {
  const check: StaleCheck = run => stale.reasons(run);
  list.staleCheck = check;
  stale.changed.connect(() => {
    if (!list.isDisposed) {
      list.staleCheck = check;
    }
  }, list);
}

/** The badge's tooltip: what does not match (the details' hint says the same). */
export function staleSentence(
  trans: TranslationBundle,
  reasons: readonly StaleReason[]
): string {
  return hintMessage(trans, {
    code: 'stale-manifest',
    severity: 'warning',
    reasons: [...reasons]
  });
}

/**
 * What differs between the environments of two runs of a notebook (older first): the
 * Julia version, the manifest, the project, the active project's place; [] when the same.
 */
export function environmentChanges(
  trans: TranslationBundle,
  before: IRunSummary,
  after: IRunSummary
): string[] {
  const what: string[] = [];
  if (before.julia_version !== after.julia_version) {
    what.push(
      trans.__(
        'Julia %1 → %2',
        shortJulia(before.julia_version),
        shortJulia(after.julia_version)
      )
    );
  }
  if (before.manifest_sha256 !== after.manifest_sha256) {
    what.push(
      !before.manifest_sha256
        ? trans.__('a manifest appeared')
        : !after.manifest_sha256
          ? trans.__('no manifest any more')
          : trans.__(
              'manifest %1… → %2…',
              before.manifest_sha256.slice(0, 8),
              after.manifest_sha256.slice(0, 8)
            )
    );
  }
  if (before.project_path !== after.project_path) {
    what.push(
      trans.__('project %1 → %2', before.project_path, after.project_path)
    );
  } else if (before.project_sha256 !== after.project_sha256) {
    what.push(trans.__('Project.toml changed'));
  }
  return what;
}

function text(className: string, value: string): HTMLElement {
  const node = document.createElement('span');
  node.className = className;
  node.textContent = value;
  return node;
}

/** A compact local date and time. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, {
        year: 'numeric',
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit'
      });
}
