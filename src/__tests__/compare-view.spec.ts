/**
 * The compare view opened on two runs, one of them with a Project or Manifest that is
 * not valid TOML: the parse error is shown in the view, with what can still be compared.
 */
import { trans } from './helpers/trans';
import { IRunSummary } from '../store/types';
import { CompareView, loadComparison } from '../widgets/compare';
import { FakeStoreAPI, IRunOptions, makeRun, makeStore } from './helpers/sqljs';

const U = (n: number) => `${String(n).repeat(8)}-0000-0000-0000-000000000000`;
const manifest = (version: string) =>
  `julia_version = "1.10.4"\nmanifest_format = "2.0"\n\n[[deps.Example]]\nuuid = "${U(7)}"\nversion = "${version}"\ngit-tree-sha1 = "${'1'.repeat(40)}"\n`;

/** The compare view of two stored runs made from `a` and `b`, as the sidebar opens it. */
async function compare(a: IRunOptions, b: IRunOptions) {
  const store = makeStore(new FakeStoreAPI());
  const runs: IRunSummary[] = [];
  for (const options of [a, b]) {
    runs.push((await store.addRun(makeRun(options))).run);
  }
  const [a1, b1] = runs;
  return new CompareView(trans, await loadComparison(store, a1, b1), a1, b1)
    .node;
}

const text = (node: HTMLElement, selector: string) =>
  [...node.querySelectorAll(selector)].map(n => n.textContent ?? '');

describe('the compare view', () => {
  it('shows a Project.toml that is not TOML, and still compares the rest', async () => {
    const node = await compare(
      { project: 'name = "Demo"\n', manifest: manifest('0.5.3') },
      { project: 'name = "Demo"\n[deps\nA = 1\n', manifest: manifest('0.5.4') }
    );
    const [alert] = text(node, '[role="alert"]');
    expect(alert).toContain('Run #2 (analysis.ipynb): Project.toml');
    expect(alert).toMatch(/Project is not valid TOML \(line 2, column \d+\)/);
    // The package table still compares the manifests; the project deps are not compared.
    expect(text(node, 'tr.jp-DearDiary-diff-row td:first-child')).toEqual([
      'Example'
    ]);
    expect(text(node, 'dd')).toContain('not compared');
  });

  it('shows a broken Manifest.toml and compares no packages', async () => {
    const node = await compare(
      { manifest: '[[deps.Example]\n', manifestName: 'Manifest-v1.10.toml' },
      { manifest: manifest('0.5.4') }
    );
    const [alert] = text(node, '[role="alert"]');
    expect(alert).toContain('Run #1 (analysis.ipynb): Manifest-v1.10.toml');
    expect(alert).toMatch(/Manifest is not valid TOML \(line 1, column \d+\)/);
    expect(node.querySelector('table')).toBeNull();
    expect(node.textContent).not.toContain('No package changed');
  });

  it('has no alert when both runs parse', async () => {
    const node = await compare(
      { manifest: manifest('0.5.3') },
      { manifest: manifest('0.5.4') }
    );
    expect(node.querySelector('[role="alert"]')).toBeNull();
    expect(text(node, 'tr.jp-DearDiary-diff-row')).toHaveLength(1);
  });
});
