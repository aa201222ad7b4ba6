/**
 * The history sidebar in a real JupyterLab with the TEST-ONLY Julia kernel: list,
 * details, note, filter by package@version, compare two runs.
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';
import { makeRun } from '../../src/__tests__/helpers/sqljs';
import {
  autoCapture,
  compareRuns,
  juliaNotebook,
  notifications,
  SNAPSHOT
} from './lab';
import { addRuns, readRuns, ROOT } from './store';

test.use({ autoGoto: true, ...autoCapture('off') });

/** A project whose manifest pins (unresolved) registered packages: bytes are what count. */
function project(dir: string, packages: Array<[string, string, string]>) {
  const folder = path.join(ROOT, dir);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(
    path.join(folder, 'Project.toml'),
    '[deps]\n' +
      packages.map(([name, uuid]) => `${name} = "${uuid}"\n`).join('')
  );
  fs.writeFileSync(
    path.join(folder, 'Manifest.toml'),
    '# This file is machine-generated - editing it directly is not advised\n\n' +
      packages
        .map(
          ([name, uuid, version]) =>
            `[[${name}]]\ngit-tree-sha1 = "${'ab'.repeat(20)}"\nuuid = "${uuid}"\nversion = "${version}"\n`
        )
        .join('\n')
  );
}

const DATAFRAMES = 'a93c6f00-e57d-5684-b7b6-d8193f3e46c0';
const CSV = '336ed68f-0bac-5ca0-87d4-7b16caf5d00b';
const JSON_ = '682c06a0-de6a-54ab-a142-c8b1cf79cde6';

test('browse, annotate, filter and compare runs', async ({ page, tmpPath }) => {
  project(`${tmpPath}/a`, [
    ['DataFrames', DATAFRAMES, '1.5.0'],
    ['CSV', CSV, '0.10.0']
  ]);
  project(`${tmpPath}/b`, [
    ['DataFrames', DATAFRAMES, '1.6.1'],
    ['JSON', JSON_, '0.21.4']
  ]);
  const notebook = `${tmpPath}/a/analysis.ipynb`;
  await juliaNotebook(page, notebook, ['import Pkg; Pkg.activate("../b")']);

  await page.locator(SNAPSHOT).click();
  await expect
    .poll(() => notifications(page), { timeout: 60000 })
    .toContain('Run #1 saved');
  await page.notebook.runCell(0);
  await page.locator(SNAPSHOT).click();
  await expect
    .poll(() => notifications(page), { timeout: 60000 })
    .toContain('Run #2 saved');

  // The list: grouped by notebook, newest first.
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  const list = page.getByRole('listbox', { name: 'Recorded runs' });
  // The list is as tall as the sidebar: runs of other tests may show below this group.
  const ours = await readRuns(notebook);
  expect(ours).toHaveLength(2);
  for (const run of ours) {
    await expect(list.locator(`#jp-DearDiary-run-${run.id}`)).toBeVisible();
  }
  await expect(list.getByRole('option').first()).toContainText('#2');
  await expect(page.locator('.jp-DearDiary-group').first()).toHaveText(
    notebook
  );

  // Details, by keyboard.
  await list.focus();
  await page.keyboard.press('ArrowDown');
  const details = page.locator('.jp-DearDiary-details');
  await expect(details).toContainText('Run #2');
  await expect(details).toContainText('Manifest.toml');
  await expect(details).toContainText('DEPOT_PATH');

  // Note: edited, saved, shown in the list, persisted on the server.
  await details
    .getByRole('textbox', { name: 'Note of run #2' })
    .fill('after the upgrade');
  await details.getByRole('button', { name: 'Save note' }).click();
  await expect(list.getByRole('option').first()).toContainText(
    'after the upgrade'
  );
  await expect
    .poll(async () => (await readRuns(notebook)).map(r => r.note))
    .toContain('after the upgrade');

  // Filter by package@version, while typing.
  const filter = page.getByRole('searchbox', { name: 'Filter runs' });
  await filter.fill('DataFrames@1.6');
  await expect(list.getByRole('option')).toHaveCount(1);
  await expect(list.getByRole('option')).toContainText('#2');
  await filter.fill('DataFrames@1.5');
  await expect(list.getByRole('option')).toHaveCount(1);
  await expect(list.getByRole('option')).toContainText('#1');
  await filter.fill('');
  for (const run of ours) {
    await expect(list.locator(`#jp-DearDiary-run-${run.id}`)).toBeVisible();
  }

  // Compare the two runs: a package table (other tests' runs #1 and #2 may be listed).
  await compareRuns(page, ours);
  // Grouped by kind; every package here is a direct dependency (in a Project's [deps]).
  const diff = page.getByRole('region', { name: 'Package changes' });
  await expect(diff).toBeVisible();
  const row = (kind: string, name: string) =>
    diff.locator(`section[data-kind="${kind}"] tr[data-package="${name}"]`);
  await expect(row('upgraded', 'DataFrames')).toContainText('1.5.0');
  await expect(row('upgraded', 'DataFrames')).toContainText('1.6.1');
  await expect(row('removed', 'CSV')).toBeVisible();
  await expect(row('added', 'JSON')).toBeVisible();
  await page.addStyleTag({
    content: '.Toastify { display: none !important; }'
  });
  // The README's picture: written into docs/ only when asked (DEARDIARY_SCREENSHOTS=1).
  await page.locator('.jp-DearDiary-compareView').screenshot({
    path: process.env.DEARDIARY_SCREENSHOTS
      ? path.join(__dirname, '..', '..', 'docs', 'compare.png')
      : test.info().outputPath('compare.png')
  });
});

test('lists the runs without the index; the server answers package filters until it is loaded', async ({
  page,
  tmpPath
}) => {
  const notebook = `${tmpPath}/early.ipynb`;
  // Newer than the runs of other tests: the first rows (only visible rows exist).
  const manifest =
    'julia_version = "1.10.4"\nmanifest_format = "2.0"\n\n[[deps.Example]]\n' +
    'uuid = "7876af07-990d-54b4-ab0e-23690620f79a"\nversion = "0.5.3"\n';
  await addRuns(
    ['2099-05-01T10:00:00Z', '2099-05-02T10:00:00Z'].map((created_at, i) =>
      makeRun({ notebook, manifest, created_at, note: `early ${i + 1}` })
    )
  );
  // Hold the browser's index (loaded by the first package filter) until released, and
  // count the server's answers to package filters, from this page's next load on.
  let release = () => {};
  const released = new Promise<void>(resolve => (release = resolve));
  let indexAsked = false;
  let packageAnswers = 0;
  await page.route(
    url => url.pathname.endsWith('/deardiary/index'),
    async route => {
      indexAsked = true;
      await released;
      await route.continue();
    }
  );
  await page.route(
    url => url.pathname.endsWith('/deardiary/packages'),
    async route => {
      packageAnswers++;
      await route.continue();
    }
  );
  await page.goto();

  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  const list = page.getByRole('listbox', { name: 'Recorded runs' });
  const early = list.getByRole('option').filter({ hasText: 'early' });
  await expect(early).toHaveCount(2);
  await expect(early.first()).toContainText('early 2');
  await expect(page.locator('.jp-DearDiary-status')).toHaveText(/^\d+ runs$/);
  expect(indexAsked).toBe(false); // the list is all a tab loads until a package filter

  // The first package filter: the server answers while the index loads (held here).
  const filter = page.getByRole('searchbox', { name: 'Filter runs' });
  await filter.fill('Example@0.5');
  await expect(page.locator('.jp-DearDiary-status')).toContainText('2 of');
  await expect(list.getByRole('option')).toHaveCount(2);
  expect(packageAnswers).toBe(1);
  expect(indexAsked).toBe(true);

  // Once the index is loaded it answers, the same.
  const loaded = page.waitForResponse(r =>
    new URL(r.url()).pathname.endsWith('/deardiary/index')
  );
  release();
  await loaded;
  await filter.fill('Example@9.9');
  await expect(page.locator('.jp-DearDiary-status')).toContainText('0 of');
  await filter.fill('Example@0.5');
  await expect(page.locator('.jp-DearDiary-status')).toContainText('2 of');
  await expect(list.getByRole('option')).toHaveCount(2);

  // Details come from the server (GET /deardiary/runs/<id>).
  await early.first().click();
  await expect(page.locator('.jp-DearDiary-details')).toContainText('Run #2');
  await expect(page.locator('.jp-DearDiary-details')).toContainText(
    'Manifest.toml'
  );
});
