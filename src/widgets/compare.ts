/**
 * Two runs side by side: Julia version, git, project dependencies, and a package table
 * (added, removed, upgraded, downgraded, changed source) a person can scan.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { compareRuns } from '../manifest/diff';
import { IRunSummary } from '../store/types';

export type Comparison = ReturnType<typeof compareRuns>;

export class CompareView extends Widget {
  constructor(
    trans: TranslationBundle,
    result: Comparison,
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
      [
        ...result.project_deps.added.map(n => `+${n}`),
        ...result.project_deps.removed.map(n => `−${n}`)
      ].join(', ') || trans.__('unchanged')
    );
    const counts = Object.entries(result.counts)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${n} ${kind}`);
    fact(trans.__('Packages'), counts.join(', ') || trans.__('identical'));

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
    this.node.append(
      title,
      summary,
      result.packages.length
        ? table
        : document.createTextNode(trans.__('No package changed.'))
    );
  }
}

function short(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : '—';
}
