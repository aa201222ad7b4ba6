/**
 * Two runs side by side: Julia version, git, project dependencies, the package changes
 * grouped by kind (direct dependencies first, transitive ones collapsed; a Julia or
 * manifest-format change on top), and the notebook diff cell by cell (nbdime). A Project
 * or Manifest that does not parse is named in the view; the rest is still compared.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Panel, Widget } from '@lumino/widgets';
import {
  ChangeKind,
  compareRuns,
  IChangeGroup,
  IPackageChange,
  IRunComparison,
  IRunEnvironment,
  VersionDirection
} from '../manifest/diff';
import { parseManifest, parseProject } from '../manifest/parse';
import { IRunSummary } from '../store/types';
import { IRunStore } from '../tokens';
import type { INotebookDiffServices, INotebookSide } from './nbdiff';

/** A run's Project or Manifest that could not be parsed, so is left out. */
export interface IUnreadableFile {
  run: IRunSummary;
  kind: 'project' | 'manifest';
  /** Its file name ("Project.toml", "Manifest-v1.11.toml"). */
  file: string;
  /** The parser's message (with line and column for a TOML syntax error). */
  message: string;
}

/** What the compare view shows. */
export interface IComparison {
  result: IRunComparison;
  unreadable: IUnreadableFile[];
  /** The two runs' stored notebooks (older first). */
  notebooks: [INotebookSide, INotebookSide];
}

/** Compare two stored runs (older first); a file that does not parse is reported, not thrown. */
export async function loadComparison(
  store: IRunStore,
  a: IRunSummary,
  b: IRunSummary
): Promise<IComparison> {
  const unreadable: IUnreadableFile[] = [];
  const side = async (run: IRunSummary): Promise<IRunEnvironment> => {
    const parse = async <T>(
      kind: IUnreadableFile['kind'],
      sha: string | null,
      file: string,
      parser: (text: string) => T
    ): Promise<T | null> => {
      const text = sha ? await store.getText(sha) : null;
      if (text === null) {
        return null;
      }
      try {
        return parser(text);
      } catch (error) {
        unreadable.push({ run, kind, file, message: (error as Error).message });
        return null;
      }
    };
    return {
      julia_version: run.julia_version,
      git_sha: run.git_sha,
      git_dirty: run.git_dirty,
      project: await parse(
        'project',
        run.project_sha256,
        run.project_path?.split(/[/\\]/).pop() || 'Project.toml',
        parseProject
      ),
      manifest: await parse(
        'manifest',
        run.manifest_sha256,
        run.manifest_name ?? 'Manifest.toml',
        parseManifest
      )
    };
  };
  const notebook = async (run: IRunSummary): Promise<INotebookSide> => {
    const { notebook } = await store.getRun(run.id);
    return { run, sha256: notebook.stored ? notebook.sha256 : null };
  };
  const before = await side(a);
  const after = await side(b);
  return {
    result: compareRuns(before, after),
    unreadable,
    notebooks: [await notebook(a), await notebook(b)]
  };
}

/**
 * The compare view. Given the app's services it also shows the notebook diff (loaded
 * on its own, after the rest is shown; `notebookReady` resolves when it is in view).
 */
export class CompareView extends Panel {
  constructor(
    trans: TranslationBundle,
    { result, unreadable, notebooks }: IComparison,
    a: IRunSummary,
    b: IRunSummary,
    services?: INotebookDiffServices
  ) {
    super();
    this.addClass('jp-DearDiary-compareView');
    const head = new Widget();
    head.addClass('jp-DearDiary-compareHead');
    const title = document.createElement('h2');
    title.textContent = trans.__(
      'Run #%1 (%2) → run #%3 (%4)',
      a.number,
      a.notebook_path,
      b.number,
      b.notebook_path
    );
    head.node.append(title);
    if (unreadable.length) {
      head.node.append(unreadableAlert(trans, unreadable));
    }
    const packages = document.createElement('h3');
    packages.textContent = trans.__('Packages');
    head.node.append(
      facts(trans, result, unreadable),
      packages,
      packageSection(trans, result)
    );
    this.addWidget(head);

    if (services) {
      const heading = new Widget({ node: document.createElement('h3') });
      heading.node.textContent = trans.__('Notebook');
      this.addWidget(heading);
      this.notebookReady = import('./nbdiff').then(
        ({ NotebookDiffView }) => {
          if (this.isDisposed) {
            return;
          }
          const view = new NotebookDiffView(trans, services, ...notebooks);
          this.addWidget(view);
          return view.ready;
        },
        (error: Error) => {
          const alert = new Widget();
          alert.addClass('jp-DearDiary-warning');
          alert.node.setAttribute('role', 'alert');
          alert.node.textContent = trans.__(
            'The notebook diff could not be loaded (reload the page): %1',
            error.message
          );
          this.addWidget(alert);
        }
      );
    }
  }

  /** Resolves when the notebook diff (or why there is none) is shown. */
  readonly notebookReady: Promise<void> = Promise.resolve();
}

function unreadableAlert(
  trans: TranslationBundle,
  unreadable: IUnreadableFile[]
): HTMLElement {
  const list = document.createElement('ul');
  for (const u of unreadable) {
    const item = document.createElement('li');
    item.textContent = trans.__(
      'Run #%1 (%2): %3 could not be read. %4',
      u.run.number,
      u.run.notebook_path,
      u.file,
      u.message
    );
    list.append(item);
  }
  const alert = document.createElement('div');
  alert.className = 'jp-DearDiary-warning';
  alert.setAttribute('role', 'alert');
  alert.append(list);
  return alert;
}

function facts(
  trans: TranslationBundle,
  result: IRunComparison,
  unreadable: IUnreadableFile[]
): HTMLElement {
  const summary = document.createElement('dl');
  summary.className = 'jp-DearDiary-facts';
  const fact = (key: string, value: string) => {
    const dt = document.createElement('dt');
    dt.textContent = key;
    const dd = document.createElement('dd');
    dd.textContent = value;
    summary.append(dt, dd);
  };
  fact(
    'Julia',
    result.julia.changed
      ? `${result.julia.before} → ${result.julia.after}`
      : (result.julia.after ?? '')
  );
  fact(
    'git',
    result.git.changed
      ? `${short(result.git.before_sha)}${result.git.before_dirty ? '+dirty' : ''} → ${short(result.git.after_sha)}${result.git.after_dirty ? '+dirty' : ''}`
      : `${short(result.git.after_sha)}${result.git.after_dirty ? '+dirty' : ''}`
  );
  fact(
    trans.__('Project deps'),
    unreadable.some(u => u.kind === 'project')
      ? trans.__('not compared')
      : [
          ...result.project_deps.added.map(n => `+${n}`),
          ...result.project_deps.removed.map(n => `−${n}`)
        ].join(', ') || trans.__('unchanged')
  );
  const counts = result.groups.map(
    g => `${g.direct.length + g.transitive.length} ${kindLabel(trans, g.kind)}`
  );
  fact(
    trans.__('Packages'),
    result.packages_compared
      ? counts.join(', ') || trans.__('identical')
      : trans.__('not compared (a run has no readable manifest)')
  );
  return summary;
}

/** The mark shown with each kind, so that colour is not the only signal. */
const MARKS: Record<ChangeKind | VersionDirection, string> = {
  added: '+',
  removed: '−',
  upgraded: '▲',
  downgraded: '▼',
  'source-changed': '⇄',
  same: '•'
};

function kindLabel(trans: TranslationBundle, kind: ChangeKind): string {
  switch (kind) {
    case 'added':
      return trans.__('added');
    case 'removed':
      return trans.__('removed');
    case 'upgraded':
      return trans.__('upgraded');
    case 'downgraded':
      return trans.__('downgraded');
    default:
      return trans.__('source changed');
  }
}

function mark(kind: ChangeKind | VersionDirection): HTMLElement {
  const span = document.createElement('span');
  span.className = 'jp-DearDiary-mark';
  span.setAttribute('aria-hidden', 'true');
  span.textContent = MARKS[kind];
  return span;
}

/** The package changes: environment changes on top, then one group per kind. */
function packageSection(
  trans: TranslationBundle,
  result: IRunComparison
): HTMLElement {
  const section = document.createElement('section');
  section.className = 'jp-DearDiary-packages';
  section.setAttribute('aria-label', trans.__('Package changes'));
  const top: HTMLElement[] = [];
  if (result.julia.changed) {
    const item = document.createElement('li');
    item.className = `jp-DearDiary-envChange jp-mod-${result.julia_direction}`;
    item.dataset.change = 'julia';
    const text =
      result.julia_direction === 'same'
        ? trans.__(
            'Julia %1 → %2',
            result.julia.before ?? '?',
            result.julia.after ?? '?'
          )
        : trans.__(
            'Julia %1 → %2 (%3)',
            result.julia.before ?? '?',
            result.julia.after ?? '?',
            kindLabel(trans, result.julia_direction)
          );
    item.append(mark(result.julia_direction), ' ', text);
    top.push(item);
  }
  if (result.manifest_format.changed) {
    const item = document.createElement('li');
    item.className = 'jp-DearDiary-envChange jp-mod-format';
    item.dataset.change = 'manifest-format';
    item.append(
      mark('source-changed'),
      ' ',
      trans.__(
        'Manifest format %1 → %2',
        result.manifest_format.before ?? '?',
        result.manifest_format.after ?? '?'
      )
    );
    top.push(item);
  }
  if (top.length) {
    const list = document.createElement('ul');
    list.className = 'jp-DearDiary-envChanges';
    list.append(...top);
    section.append(list);
  }
  if (!result.packages_compared) {
    return section;
  }
  if (!result.groups.length) {
    section.append(trans.__('No package changed.'));
    return section;
  }
  for (const group of result.groups) {
    section.append(groupView(trans, group, result.direct_known));
  }
  return section;
}

/** One kind: a heading with counts, the direct rows, the transitive ones collapsed. */
function groupView(
  trans: TranslationBundle,
  group: IChangeGroup,
  directKnown: boolean
): HTMLElement {
  const node = document.createElement('section');
  node.className = `jp-DearDiary-changeGroup jp-mod-${group.kind}`;
  node.dataset.kind = group.kind;
  const heading = document.createElement('h4');
  const total = group.direct.length + group.transitive.length;
  const count = document.createElement('span');
  count.className = 'jp-DearDiary-count';
  count.textContent = String(total);
  heading.append(
    mark(group.kind),
    ' ',
    kindLabel(trans, group.kind),
    ' ',
    count
  );
  if (directKnown) {
    const split = document.createElement('span');
    split.className = 'jp-DearDiary-split';
    split.textContent = trans.__(
      '%1 direct, %2 transitive',
      group.direct.length,
      group.transitive.length
    );
    heading.append(' ', split);
  }
  node.append(heading);
  if (group.direct.length) {
    node.append(table(trans, group.direct, trans.__('Direct dependencies')));
  }
  if (group.transitive.length) {
    if (!directKnown) {
      node.append(table(trans, group.transitive, trans.__('Packages')));
    } else {
      const details = document.createElement('details');
      details.className = 'jp-DearDiary-transitive';
      const summary = document.createElement('summary');
      summary.textContent = trans._n(
        '%1 transitive dependency',
        '%1 transitive dependencies',
        group.transitive.length
      );
      details.append(
        summary,
        table(trans, group.transitive, trans.__('Transitive dependencies'))
      );
      node.append(details);
    }
  }
  return node;
}

function table(
  trans: TranslationBundle,
  changes: IPackageChange[],
  label: string
): HTMLTableElement {
  const table = document.createElement('table');
  table.className = 'jp-DearDiary-diff';
  table.setAttribute('aria-label', label);
  const head = table.createTHead().insertRow();
  for (const text of [
    trans.__('Package'),
    trans.__('Before'),
    trans.__('After'),
    trans.__('Details')
  ]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = text;
    head.append(th);
  }
  const body = table.createTBody();
  for (const change of changes) {
    const row = body.insertRow();
    row.className = 'jp-DearDiary-diff-row';
    row.dataset.package = change.name;
    row.dataset.kind = change.kind;
    for (const value of [
      change.name,
      change.before_version ?? '',
      change.after_version ?? '',
      change.details.join('; ')
    ]) {
      row.insertCell().textContent = value;
    }
  }
  return table;
}

function short(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : '—';
}
