/**
 * Two runs side by side: Julia version, git, project dependencies, and a package table
 * (added, removed, upgraded, downgraded, changed source) a person can scan. A Project or
 * Manifest that does not parse is named in the view; the rest is still compared.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { compareRuns, IRunComparison, IRunEnvironment } from '../manifest/diff';
import { parseManifest, parseProject } from '../manifest/parse';
import { IRunSummary } from '../store/types';
import { IRunStore } from '../tokens';

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
  const before = await side(a);
  const after = await side(b);
  return { result: compareRuns(before, after), unreadable };
}

export class CompareView extends Widget {
  constructor(
    trans: TranslationBundle,
    { result, unreadable }: IComparison,
    a: IRunSummary,
    b: IRunSummary
  ) {
    super();
    this.addClass('jp-DearDiary-compareView');
    const title = document.createElement('h2');
    title.textContent = trans.__(
      'Run #%1 (%2) → run #%3 (%4)',
      a.number,
      a.notebook_path,
      b.number,
      b.notebook_path
    );

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
    const counts = Object.entries(result.counts)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${n} ${kind}`);
    fact(
      trans.__('Packages'),
      result.packages_compared
        ? counts.join(', ') || trans.__('identical')
        : trans.__('not compared (a run has no readable manifest)')
    );

    const table = document.createElement('table');
    table.className = 'jp-DearDiary-diff';
    table.setAttribute('aria-label', trans.__('Package changes'));
    const head = table.createTHead().insertRow();
    for (const label of [
      trans.__('Package'),
      trans.__('Change'),
      trans.__('Before'),
      trans.__('After'),
      trans.__('Details')
    ]) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = label;
      head.append(th);
    }
    const body = table.createTBody();
    for (const change of result.packages) {
      const row = body.insertRow();
      row.className = `jp-DearDiary-diff-row jp-mod-${change.kind}`;
      row.dataset.package = change.name;
      row.dataset.kind = change.kind;
      for (const value of [
        change.name,
        change.kind +
          (change.source_changed && change.kind !== 'source-changed'
            ? ' + source'
            : ''),
        change.before_version ?? '',
        change.after_version ?? '',
        change.details.join('; ')
      ]) {
        row.insertCell().textContent = value;
      }
    }
    this.node.append(title);
    if (unreadable.length) {
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
      this.node.append(alert);
    }
    this.node.append(summary);
    if (result.packages.length) {
      this.node.append(table);
    } else if (result.packages_compared) {
      this.node.append(trans.__('No package changed.'));
    }
  }
}

function short(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : '—';
}
