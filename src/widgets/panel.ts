/**
 * The history sidebar: a SidePanel with a "Runs" section (filter, drift of the current
 * notebook, the virtual run list, compare) and a "Details" section.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { AccordionPanel, Panel, Widget } from '@lumino/widgets';
import {
  matchRun,
  parseQuery,
  QUERY_HELP,
  RunPackages
} from '../manifest/search';
import { runHints } from '../manifest/hints';
import { IRunStore } from '../tokens';
import { IRunDetail, IRunSummary } from '../store/types';
import { IDetailsActions, RunDetails } from './details';
import { RunList } from './runlist';

/** How many of the newest runs the first paint shows before the whole list is here. */
const FIRST_PAINT = 200;
/** While the sidebar is shown, how often it asks the server for runs recorded elsewhere. */
const POLL_MS = 10000;

/** A manifest without any of the packages asked for. */
const EMPTY: RunPackages = new Map();

export interface IHistoryPanelOptions {
  store: IRunStore;
  trans: TranslationBundle;
  actions: IDetailsActions;
  /** Compare two runs (older first). */
  compare(a: IRunSummary, b: IRunSummary): Promise<void>;
  /** The drift of the current notebook, as a line of text (null: nothing to say). */
  drift(runs: IRunSummary[]): Promise<string | null>;
}

export class HistoryPanel extends SidePanel {
  constructor(private readonly _options: IHistoryPanelOptions) {
    super({ translator: undefined });
    const trans = _options.trans;
    this.id = 'jp-DearDiary-historyPanel';
    this.addClass('jp-DearDiary-history');
    this.title.caption = trans.__('DearDiary: recorded runs');

    const header = new Widget();
    header.addClass('jp-DearDiary-history-header');
    this._filter.type = 'search';
    this._filter.className = 'jp-DearDiary-filter jp-mod-styled';
    this._filter.placeholder = trans.__(
      'Filter: DataFrames@1.6 julia:1.10 is:dirty…'
    );
    this._filter.title = QUERY_HELP.map(
      ([example, meaning]) => `${example}: ${trans.__(meaning)}`
    ).join('\n');
    this._filter.setAttribute('aria-label', trans.__('Filter runs'));
    this._filter.addEventListener('input', () => void this._applyFilter());
    this._filter.addEventListener('keydown', event => {
      if (event.key === 'ArrowDown') {
        this._list.node.focus();
        event.preventDefault();
      }
    });
    this._status.className = 'jp-DearDiary-status';
    this._status.setAttribute('aria-live', 'polite');
    this._waiting.className = 'jp-DearDiary-waiting';
    this._waiting.setAttribute('aria-live', 'polite');
    this._drift.className = 'jp-DearDiary-drift';
    this._drift.setAttribute('aria-live', 'polite');
    this._compare.className =
      'jp-Button jp-mod-styled jp-mod-small jp-DearDiary-compare';
    this._compare.textContent = trans.__('Compare 2 runs');
    this._compare.disabled = true;
    this._compare.title = trans.__(
      'Mark two runs (Space, Ctrl+click or their box) to compare them'
    );
    this._compare.addEventListener('click', () => void this._compareMarked());
    this._guidance.className = 'jp-DearDiary-guidanceSlot';
    header.node.append(
      this._guidance,
      this._filter,
      this._waiting,
      this._drift,
      this._status,
      this._compare
    );

    this._list = new RunList(trans);
    const runs = new Panel();
    runs.addClass('jp-DearDiary-runsSection');
    runs.title.label = trans.__('Runs');
    runs.addWidget(header);
    runs.addWidget(this._list);

    this._details = new RunDetails(trans, _options.actions);
    this._details.title.label = trans.__('Details');

    this.addWidget(runs);
    this.addWidget(this._details);
    // The run list takes most of the sidebar; the details below get the rest.
    AccordionPanel.setStretch(runs, 3);
    AccordionPanel.setStretch(this._details, 1);

    this._list.selectionChanged.connect(
      (_, run) => void this._showDetails(run)
    );
    this._list.activated.connect(() => this._details.node.focus());
    this._list.markedChanged.connect((_, marked) => {
      this._compare.disabled = marked.length !== 2;
    });
    _options.store.changed.connect(() => {
      this._packages = null;
      this._changes++;
      void this.refresh();
    }, this);
    _options.store.pendingChanged.connect(() => this._showWaiting(), this);
    this._showWaiting();
  }

  /**
   * Shown: ask the server for runs recorded elsewhere (other browsers, kernels) now and
   * every POLL_MS while the page is visible (a 304 when nothing changed).
   */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    const ask = () => {
      if (document.visibilityState === 'visible') {
        void this._options.store.refresh().catch(() => undefined);
      }
    };
    ask();
    this._poll ??= setInterval(ask, POLL_MS);
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this._stopPolling();
  }

  dispose(): void {
    this._stopPolling();
    super.dispose();
  }

  private _stopPolling(): void {
    if (this._poll !== null) {
      clearInterval(this._poll);
      this._poll = null;
    }
  }

  /** Show first-run guidance at the top of the sidebar (null: none). */
  showGuidance(node: HTMLElement | null): void {
    this._guidance.replaceChildren(...(node ? [node] : []));
  }

  /** The line saying how many runs wait in this browser to reach the server. */
  get waiting(): HTMLElement {
    return this._waiting;
  }

  private _showWaiting(): void {
    const n = this._options.store.pendingCount;
    this._waiting.textContent = n
      ? this._options.trans._n(
          '%1 run waiting to be stored',
          '%1 runs waiting to be stored',
          n
        )
      : '';
    this._waiting.hidden = n === 0;
  }

  /** The filter box (for commands and tests). */
  get filter(): HTMLInputElement {
    return this._filter;
  }

  get list(): RunList {
    return this._list;
  }

  get details(): RunDetails {
    return this._details;
  }

  /** Reload the runs from the store, keep the filter and selection (one at a time). */
  refresh(): Promise<void> {
    if (this._refreshing) {
      this._refreshAgain = true;
      return this._refreshing;
    }
    this._refreshing = (async () => {
      do {
        this._refreshAgain = false;
        await this._refresh();
      } while (this._refreshAgain);
    })().finally(() => (this._refreshing = null));
    return this._refreshing;
  }

  private async _refresh(): Promise<void> {
    try {
      const all = this._options.store.listRuns();
      all.catch(() => undefined); // awaited below, after the first paint
      if (!this._painted) {
        await this._paintRecent();
      }
      this._runs = await all;
      this._painted = true;
      await this._applyFilter();
      await this.updateDrift();
      const selected = this._list.selected;
      if (selected) {
        await this._showDetails(selected);
      }
    } catch (error) {
      this._status.textContent = this._options.trans.__(
        'Cannot read the runs: %1',
        (error as Error).message
      );
    }
  }

  /**
   * The first paint: the newest runs while the whole list is on its way (at 50,000
   * runs it takes ten times longer), unless a filter is typed already.
   */
  private async _paintRecent(): Promise<void> {
    try {
      const recent = await this._options.store.recentRuns(FIRST_PAINT);
      if (recent && !this._filter.value && !this._painted) {
        this._list.setRuns(recent.runs);
        this._status.textContent = this._options.trans._n(
          '%1 run',
          '%1 runs',
          recent.total
        );
      }
    } catch {
      // the whole list says what is wrong
    }
  }

  /** Select a run in the list and show it. */
  async reveal(id: number): Promise<void> {
    if (!this._runs.some(r => r.id === id)) {
      await this.refresh();
    }
    if (this._filter.value && !this._shown.some(r => r.id === id)) {
      this._filter.value = '';
      await this._applyFilter();
    }
    this._list.select(id);
  }

  async updateDrift(): Promise<void> {
    try {
      const text = await this._options.drift(this._runs);
      this._drift.textContent = text ?? '';
      this._drift.hidden = !text;
    } catch {
      this._drift.hidden = true;
    }
  }

  private async _applyFilter(): Promise<void> {
    const trans = this._options.trans;
    const text = this._filter.value;
    const query = parseQuery(text);
    if (query.packages.length) {
      // The package versions come from the store's index, which may still be loading:
      // the list is marked stale until they are there, rather than filtered without.
      const names = query.packages.map(p => p.key);
      const key = JSON.stringify([...new Set(names)].sort());
      if (this._packages?.key !== key) {
        this._status.textContent = trans.__('Loading the package versions…');
        this._list.addClass('jp-mod-stale');
        this._list.node.setAttribute('aria-busy', 'true');
      }
      try {
        await this._loadPackages(names, key);
      } catch (error) {
        this._status.textContent = trans.__(
          'Cannot read the package versions: %1',
          (error as Error).message
        );
        return;
      }
      if (this._filter.value !== text) {
        return; // typed on meanwhile: the pass of the new text shows the list
      }
    }
    this._list.removeClass('jp-mod-stale');
    this._list.node.removeAttribute('aria-busy');
    const started = performance.now();
    this._shown = query.empty
      ? this._runs
      : this._runs.filter(run => matchRun(run, query, this._packagesOf(run)));
    this._list.setRuns(this._shown);
    this._lastFilterMs = performance.now() - started;
    this._filtered.emit();
    this._status.textContent =
      this._shown.length === this._runs.length
        ? trans._n('%1 run', '%1 runs', this._runs.length)
        : trans.__('%1 of %2 runs', this._shown.length, this._runs.length);
  }

  /** Milliseconds the last filter pass took (for the benchmark). */
  get lastFilterMs(): number {
    return this._lastFilterMs;
  }

  /** A filter pass has put its runs in the list (rows that did not change keep their node). */
  get filtered(): ISignal<this, void> {
    return this._filtered;
  }

  private _packagesOf(run: IRunSummary): RunPackages | undefined {
    return run.manifest_sha256
      ? (this._packages?.versions.get(run.manifest_sha256) ?? EMPTY)
      : undefined;
  }

  /** The versions of the packages a filter names, per manifest, from the store's index. */
  private async _loadPackages(names: string[], key: string): Promise<void> {
    if (this._packages?.key === key) {
      return;
    }
    for (;;) {
      const changes = this._changes;
      const versions = await this._options.store.packageVersions(names);
      if (changes === this._changes) {
        this._packages = { key, versions };
        return;
      }
      // The runs changed meanwhile (a new manifest may be missing there): ask again.
    }
  }

  private async _showDetails(run: IRunSummary | null): Promise<void> {
    if (!run) {
      this._details.render(null, []);
      return;
    }
    try {
      const detail: IRunDetail = await this._options.store.getRun(run.id);
      this._details.render(detail, await runHints(this._options.store, detail));
    } catch (error) {
      this._status.textContent = this._options.trans.__(
        'Cannot read run #%1: %2',
        run.number,
        (error as Error).message
      );
    }
  }

  private async _compareMarked(): Promise<void> {
    const marked = this._list.marked;
    if (marked.length === 2) {
      const [a, b] = [...marked].sort((x, y) =>
        x.created_at < y.created_at ? -1 : 1
      );
      await this._options.compare(a, b);
    }
  }

  private _refreshing: Promise<void> | null = null;
  private _poll: ReturnType<typeof setInterval> | null = null;
  /** The list was painted once (the first paint may show the newest runs only). */
  private _painted = false;
  private _refreshAgain = false;
  private _runs: IRunSummary[] = [];
  private _shown: IRunSummary[] = [];
  private _lastFilterMs = 0;
  private _filtered = new Signal<this, void>(this);
  /** The package versions of the last package filter (dropped when the runs change). */
  /** Changes of the store seen (a package answer asked before one is not kept). */
  private _changes = 0;
  private _packages: {
    key: string;
    versions: ReadonlyMap<string, RunPackages>;
  } | null = null;
  private _waiting = document.createElement('div');
  private _guidance = document.createElement('div');
  private _filter = document.createElement('input');
  private _status = document.createElement('div');
  private _drift = document.createElement('div');
  private _compare = document.createElement('button');
  private _list: RunList;
  private _details: RunDetails;
}
