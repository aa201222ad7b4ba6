import { runSummary } from './helpers/fixtures';
import { trans } from './helpers/trans';
import { RunList } from '../widgets/runlist';
import { IRunSummary } from '../store/types';

const summary = (id: number, note = ''): IRunSummary =>
  runSummary(id, { note });

const box = (list: RunList, id: number) =>
  list.node.querySelector<HTMLInputElement>(
    `#jp-DearDiary-run-${id} .jp-DearDiary-run-mark`
  )!;

describe('RunList', () => {
  it('keeps the nodes of unchanged rows, so a click during a refresh is not lost', () => {
    const list = new RunList(trans);
    const marked: number[][] = [];
    list.markedChanged.connect((_, runs) => marked.push(runs.map(r => r.id)));
    list.setRuns([summary(1), summary(2)]);
    const first = box(list, 1);
    const second = box(list, 2);

    // A refresh brings equal runs as new objects, one of them changed.
    list.setRuns([summary(1), summary(2, 'after the upgrade')]);
    expect(box(list, 1)).toBe(first);
    expect(box(list, 2)).not.toBe(second);
    expect(list.node.textContent).toContain('after the upgrade');

    // The click lands on the node the user saw before the refresh.
    first.click();
    expect(marked).toEqual([[1]]);
    box(list, 2).click();
    expect(list.marked.map(r => r.id).sort()).toEqual([1, 2]);
    expect(list.node.querySelectorAll('.jp-mod-marked')).toHaveLength(2);
  });

  it('shows the run number and names its iteration (restore folder) on hover', () => {
    const list = new RunList(trans);
    list.setRuns([{ ...summary(3), number: 2 }]);
    const number = list.node.querySelector<HTMLElement>(
      '#jp-DearDiary-run-3 .jp-DearDiary-run-number'
    )!;
    expect(number.textContent).toBe('#2');
    expect(number.title).toContain('iteration 3');
    expect(number.title).toContain('iteration_3');
  });

  it('tells when a refresh drops a marked run', () => {
    const list = new RunList(trans);
    const marked: number[][] = [];
    list.setRuns([summary(1), summary(2)]);
    box(list, 1).click();
    box(list, 2).click();
    list.markedChanged.connect((_, runs) => marked.push(runs.map(r => r.id)));
    list.setRuns([summary(1)]);
    expect(marked).toEqual([[1]]);
    expect(list.node.querySelectorAll('.jp-DearDiary-run')).toHaveLength(1);
  });
});
