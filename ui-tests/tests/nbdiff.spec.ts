/**
 * The compare view's notebook diff (nbdime) in a real JupyterLab: two runs of one
 * notebook whose only differences are one source line and a PNG output. The runs are
 * added through the server's API, as another client would (the test kernel cannot
 * display images), and compared from the sidebar.
 */
import { expect, test } from '@jupyterlab/galata';
import { makeRun } from '../../src/__tests__/helpers/sqljs';
import { autoCapture, compareRuns, JULIA_SPEC, notebookJSON } from './lab';
import { addRuns, readRuns } from './store';

test.use({ autoGoto: true, ...autoCapture('off') });

// Two 4×4 PNGs, red and blue.
const RED =
  'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGO4o6EBRwzEcQDzAxLBI9OCRQAAAABJRU5ErkJggg==';
const BLUE =
  'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGPQCLgDRwzEcQAdkhVBx4FAOAAAAABJRU5ErkJggg==';

const DATAFRAMES = 'a93c6f00-e57d-5684-b7b6-d8193f3e46c0';
const CSV = '336ed68f-0bac-5ca0-87d4-7b16caf5d00b';
const JSON_ = '682c06a0-de6a-54ab-a142-c8b1cf79cde6';
/** DataFrames is the one direct dependency; CSV and JSON come with it. */
const PROJECT = `name = "Plots"\n\n[deps]\nDataFrames = "${DATAFRAMES}"\n`;

function manifest(packages: [string, string, string][]): string {
  return (
    'julia_version = "1.10.4"\nmanifest_format = "2.0"\n\n' +
    packages
      .map(
        ([name, uuid, version]) =>
          `[[deps.${name}]]\ngit-tree-sha1 = "${'ab'.repeat(20)}"\nuuid = "${uuid}"\nversion = "${version}"\n`
      )
      .join('\n')
  );
}

/** The notebook's bytes: three cells, the second one drawing `png` with `line`. */
function notebook(line: string, png: string): Uint8Array {
  const nb = notebookJSON(JULIA_SPEC, [
    'using Plots',
    `x = 1:10\n${line}`,
    'println("done")'
  ]) as any;
  nb.cells.forEach((cell: any, i: number) => {
    cell.id = `cell-${i}`;
    cell.execution_count = i + 1;
  });
  nb.cells[1].outputs = [
    {
      output_type: 'display_data',
      data: { 'image/png': png, 'text/plain': 'Plot{GR}' },
      metadata: {}
    }
  ];
  return new TextEncoder().encode(JSON.stringify(nb, null, 1));
}

test('the compare view shows the notebook diff: the changed cell, both images, the source change', async ({
  page,
  tmpPath
}) => {
  const path = `${tmpPath}/plots.ipynb`;
  // Newer than other tests' runs, so that both are at the top of the list.
  await addRuns([
    makeRun({
      notebook: path,
      created_at: '2100-01-01T10:00:00Z',
      notebookBytes: notebook('plot(x, sin.(x))', RED),
      project: PROJECT,
      manifest: manifest([
        ['DataFrames', DATAFRAMES, '1.5.0'],
        ['CSV', CSV, '0.10.0']
      ])
    }),
    makeRun({
      notebook: path,
      created_at: '2100-01-01T11:00:00Z',
      notebookBytes: notebook('plot(x, cos.(x))', BLUE),
      project: PROJECT,
      manifest: manifest([
        ['DataFrames', DATAFRAMES, '1.6.1'],
        ['CSV', CSV, '0.10.1'],
        ['JSON', JSON_, '0.21.4']
      ])
    })
  ]);
  const runs = await readRuns(path);
  expect(runs).toHaveLength(2);
  await page.goto(); // the page lists the runs as it loads (the store may be new)

  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  await compareRuns(page, runs);

  const view = page.locator('.jp-DearDiary-compareView');

  // The package changes, grouped: the direct dependency shown, the transitive one
  // collapsed (opened by keyboard).
  const packages = view.getByRole('region', { name: 'Package changes' });
  const upgraded = packages.locator('section[data-kind="upgraded"]');
  await expect(upgraded.locator('h4')).toHaveText(
    '▲ upgraded 2 1 direct, 1 transitive'
  );
  await expect(
    upgraded.getByRole('table', { name: 'Direct dependencies' })
  ).toContainText('DataFrames1.5.01.6.1');
  const transitive = upgraded.getByRole('table', {
    name: 'Transitive dependencies'
  });
  await expect(transitive).toBeHidden();
  await upgraded.getByText('1 transitive dependency').focus();
  await page.keyboard.press('Enter');
  await expect(transitive).toContainText('CSV0.10.00.10.1');
  await expect(packages.locator('section[data-kind="added"] h4')).toHaveText(
    '+ added 1 0 direct, 1 transitive'
  );
  const nbdiff = view.locator('.jp-DearDiary-nbdiff');
  await expect(nbdiff.getByRole('status')).toHaveText(
    'Cells: 1 changed, 0 added, 0 removed, 2 unchanged. Hide unchanged cells'
  );
  // Only the changed cell is shown; the unchanged ones are hidden until asked for.
  const cells = nbdiff.locator('.jp-Cell-diff');
  await expect(cells).toHaveCount(3);
  const changed = nbdiff.locator('.jp-Cell-diff:not(.jp-Diff-unchanged)');
  await expect(changed).toHaveCount(1);
  await expect(nbdiff.locator('.jp-Cell-diff:visible')).toHaveCount(1);

  // Both images, rendered by JupyterLab's rendermime: the old one and the new one.
  const images = changed.locator('img');
  await expect(images).toHaveCount(2);
  const sources = await images.evaluateAll(imgs =>
    imgs.map(img => (img as HTMLImageElement).src)
  );
  expect(sources.sort()).toEqual(
    [`data:image/png;base64,${BLUE}`, `data:image/png;base64,${RED}`].sort()
  );
  await expect(changed.locator('.jp-Diff-deleted img')).toHaveAttribute(
    'src',
    `data:image/png;base64,${RED}`
  );
  await expect(changed.locator('.jp-Diff-added img')).toHaveAttribute(
    'src',
    `data:image/png;base64,${BLUE}`
  );
  for (const image of await images.all()) {
    await expect
      .poll(() => image.evaluate(img => (img as HTMLImageElement).naturalWidth))
      .toBe(4);
  }

  // The source change, side by side (nbdime's merge view): the line before and after,
  // the changed letters marked on each side.
  const before = changed.locator('.cm-diff-left-editor');
  const after = changed.locator('.cm-diff-right-editor');
  await expect(before.locator('.cm-line')).toHaveText([
    'x = 1:10',
    'plot(x, sin.(x))'
  ]);
  await expect(after.locator('.cm-line')).toHaveText([
    'x = 1:10',
    'plot(x, cos.(x))'
  ]);
  await expect(before.locator('.cm-merge-r-deleted')).toHaveText('in');
  await expect(after.locator('.cm-merge-r-inserted')).toHaveText('co');

  // The unchanged cells come back on request, by keyboard.
  const hide = nbdiff.getByRole('checkbox', { name: 'Hide unchanged cells' });
  await hide.focus();
  await page.keyboard.press('Space');
  await expect(hide).not.toBeChecked();
  await expect(nbdiff.locator('.jp-Cell-diff:visible')).toHaveCount(3);
  await expect(nbdiff).toContainText('println("done")');
  await page.addStyleTag({
    content: '.Toastify { display: none !important; }'
  });
  await view.screenshot({ path: test.info().outputPath('nbdiff.png') });
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('apputils:change-theme', {
      theme: 'JupyterLab Dark'
    })
  );
  await page.waitForTimeout(1500);
  await view.screenshot({ path: test.info().outputPath('nbdiff-dark.png') });
});

test('the compare view says why it shows no notebook diff', async ({
  page,
  tmpPath
}) => {
  const same = notebook('plot(x)', RED);
  const kept = `${tmpPath}/kept.ipynb`;
  const unkept = `${tmpPath}/unkept.ipynb`;
  await addRuns([
    makeRun({ notebook: kept, notebookBytes: same, note: 'first' }),
    makeRun({ notebook: kept, notebookBytes: same, note: 'second' }),
    makeRun({ notebook: unkept, notebookBytes: null })
  ]);
  const [a, b] = await readRuns(kept);
  const [c] = await readRuns(unkept);
  await page.goto(); // the page lists the runs as it loads (the store may be new)
  const compare = async (x: number, y: number) => {
    await page.evaluate(
      ([x, y]) =>
        window.jupyterapp.commands.execute('deardiary:compare-runs', {
          a: x,
          b: y
        }),
      [x, y]
    );
    return page.locator(`#jp-DearDiary-compare-${x}-${y} .jp-DearDiary-nbdiff`);
  };
  await expect((await compare(a.id, b.id)).getByRole('status')).toHaveText(
    'The notebook is the same in both runs.'
  );
  await expect((await compare(a.id, c.id)).getByRole('status')).toHaveText(
    `Run #${c.number} kept no copy of its notebook (the setting “Keep the notebook's bytes” was off), so the notebooks cannot be compared.`
  );
});
