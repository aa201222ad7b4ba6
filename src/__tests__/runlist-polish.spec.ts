import { runSummary } from './helpers/fixtures';
import { trans } from './helpers/trans';
import { environmentChanges, RunList } from '../widgets/runlist';
import { IRunSummary } from '../store/types';

const MINUTE = 60 * 1000;

const run = (
  id: number,
  minutesAgo: number,
  manifest: string | null,
  julia = '1.10.4'
): IRunSummary =>
  runSummary(id, {
    created_at: new Date(Date.now() - minutesAgo * MINUTE).toISOString(),
    julia_version: julia,
    git_dirty: true,
    has_manifest: manifest !== null,
    manifest_sha256: manifest,
    project_sha256: 'p'.repeat(64)
  });

// Newest first, as the store lists them: the environment changed at run 3 (a new
// manifest) and at run 4 (a new Julia).
const RUNS = [
  run(4, 3, 'b'.repeat(64), '1.11.1'),
  run(3, 90, 'b'.repeat(64)),
  run(2, 60 * 30, 'a'.repeat(64)),
  run(1, 60 * 30 + 5, 'a'.repeat(64))
];

function listOf(runs: IRunSummary[]): RunList {
  const list = new RunList(trans);
  list.language = 'en';
  list.setRuns(runs);
  return list;
}

describe('RunList rows', () => {
  it('says when relatively, the whole date on hover, badges on the second line', () => {
    const list = listOf(RUNS);
    const row = list.node.querySelector('#jp-DearDiary-run-4')!;
    const time = row.querySelector<HTMLElement>('.jp-DearDiary-run-time')!;
    expect(time.textContent).toBe('3 min. ago');
    expect(time.title).toMatch(/\d{4}/);
    expect(time.title).not.toBe(time.textContent);
    const top = row.querySelector('.jp-DearDiary-run-top')!;
    const bottom = row.querySelector('.jp-DearDiary-run-bottom')!;
    expect(top.querySelector('.jp-DearDiary-badge')).toBeNull();
    const julia = bottom.querySelector<HTMLElement>(
      '.jp-DearDiary-badge-julia'
    )!;
    expect(julia.textContent).toBe('1.11.1');
    expect(julia.title).toBe('Julia 1.11.1');
    expect(bottom.querySelector('.jp-DearDiary-badge-dirty')).not.toBeNull();
    expect(row.getAttribute('aria-label')).toContain(
      'environment changed: Julia 1.10.4 → 1.11.1'
    );
  });

  it('draws a timeline per notebook: one mark per run, oldest first, marks where the environment changed', () => {
    const list = listOf(RUNS);
    const group = list.node.querySelector('.jp-DearDiary-group')!;
    expect(group.textContent).toBe('a/analysis.ipynb');
    const marks = [
      ...group.querySelectorAll<HTMLElement>('.jp-DearDiary-timeline-mark')
    ];
    expect(marks.map(m => m.dataset.runId)).toEqual(['1', '2', '3', '4']);
    expect(marks.map(m => m.classList.contains('jp-mod-changed'))).toEqual([
      false,
      false,
      true,
      true
    ]);
    // a new colour from each change on
    expect(marks.map(m => m.className.match(/jp-mod-era(\d)/)![1])).toEqual([
      '0',
      '0',
      '1',
      '2'
    ]);
    expect(marks[2].title).toContain('Run #3');
    expect(marks[2].title).toContain('manifest aaaaaaaa… → bbbbbbbb…');
    expect(marks[1].title).toContain('same environment');
    expect(
      group.querySelector('.jp-DearDiary-timeline')!.getAttribute('aria-label')
    ).toBe('Environment timeline of the last 4 runs: 2 changes');
  });

  it('a click on a mark selects its run', () => {
    const list = listOf(RUNS);
    const selected: Array<number | null> = [];
    list.selectionChanged.connect((_, r) => selected.push(r?.id ?? null));
    list.node
      .querySelector<HTMLElement>(
        '.jp-DearDiary-timeline-mark[data-run-id="2"]'
      )!
      .click();
    expect(selected).toEqual([2]);
    expect(
      list.node
        .querySelector('#jp-DearDiary-run-2')!
        .getAttribute('aria-selected')
    ).toBe('true');
  });
});

describe('environmentChanges', () => {
  it('names the Julia version, the manifest and the project', () => {
    const [a, b] = [run(1, 2, 'a'.repeat(64)), run(2, 1, null, '1.11.0')];
    expect(environmentChanges(trans, a, b)).toEqual([
      'Julia 1.10.4 → 1.11.0',
      'no manifest any more'
    ]);
    expect(
      environmentChanges(trans, a, { ...a, project_sha256: 'q'.repeat(64) })
    ).toEqual(['Project.toml changed']);
    expect(environmentChanges(trans, a, { ...a, id: 9 })).toEqual([]);
  });
});
