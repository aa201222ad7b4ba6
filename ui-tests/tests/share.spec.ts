/**
 * Sharing runs (issue 17) in a real JupyterLab: the sidebar exports the selected run as a
 * bundle (a browser download) and into a DearDiary.jl store file (its path asked in a
 * dialog), the run is deleted, and the sidebar imports the bundle back (a file chosen in
 * the browser's file chooser), then again (recognised, nothing added).
 */
import { expect, test } from '@jupyterlab/galata';
import { createHash } from 'crypto';
import * as fs from 'fs';
import { makeRun } from '../../src/__tests__/helpers/sqljs';
import { autoCapture } from './lab';
import { addRuns, readRuns } from './store';

test.use({ autoGoto: true, ...autoCapture('off') });

test('export the selected run as a bundle and import it back', async ({
  page,
  tmpPath
}) => {
  const notebook = `${tmpPath}/shared-${Date.now()}.ipynb`;
  const manifest = `julia_version = "1.10.4"\n# ${tmpPath}\n`;
  // Newer than the runs of other tests: the first row (only visible rows exist).
  const input = makeRun({
    notebook,
    manifest,
    note: 'to share',
    created_at: '2099-06-01T10:00:00.000Z'
  });
  await addRuns([input]);
  const [run] = await readRuns(notebook);
  expect(run.snapshot_id).toBe(input.snapshot_id);
  await page.goto();

  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  const list = page.getByRole('listbox', { name: 'Recorded runs' });
  await list.locator(`#jp-DearDiary-run-${run.id}`).click();

  // Export: the toolbar's button downloads one zip holding the run's exact files.
  const exportButton = page.locator(
    '.jp-SidePanel-toolbar [data-command="deardiary:export-bundle"]'
  );
  await expect(exportButton).toBeEnabled();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    exportButton.click()
  ]);
  expect(download.suggestedFilename()).toMatch(/^deardiary-runs-.*\.zip$/);
  const zipPath = await download.path();
  const zip = fs.readFileSync(zipPath!);
  expect(zip.subarray(0, 2).toString()).toBe('PK');
  const sha = createHash('sha256').update(manifest).digest('hex');
  for (const name of ['index.json', 'restore.jl', `blobs/${sha}`]) {
    expect(zip.includes(`deardiary-bundle/${name}`)).toBe(true);
  }

  // The selected run into a DearDiary.jl store file: the command asks for its path.
  const exported = page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:export-deardiary')
  );
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Export 1 run to DearDiary');
  await dialog.locator('input').fill(`${tmpPath}/dd.db`);
  await dialog.getByRole('button', { name: 'Ok' }).click();
  expect(await exported).toMatchObject({
    path: `${tmpPath}/dd.db`,
    added: [{ snapshot_id: input.snapshot_id, run_id: run.id }],
    refused: []
  });
  await expect(dialog).toContainText('1 run added');
  await dialog.getByRole('button', { name: 'Ok' }).click();

  // The run is deleted from the store, then imported back from the file.
  const deleted = await page.request.delete(`/deardiary/runs/${run.id}`);
  expect(deleted.status()).toBe(200);
  expect(await readRuns(notebook)).toHaveLength(0);
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    page
      .locator('.jp-SidePanel-toolbar [data-command="deardiary:import-bundle"]')
      .click()
  ]);
  await chooser.setFiles(zipPath!);
  await expect(dialog).toContainText('1 run added');
  await dialog.getByRole('button', { name: 'Ok' }).click();
  const back = await readRuns(notebook);
  expect(back.map(r => [r.snapshot_id, r.note])).toEqual([
    [input.snapshot_id, 'to share']
  ]);
  await expect(list.locator(`#jp-DearDiary-run-${back[0].id}`)).toBeVisible();

  // The same bundle again: recognised by its snapshot id, nothing added.
  const [again] = await Promise.all([
    page.waitForEvent('filechooser'),
    page
      .locator('.jp-SidePanel-toolbar [data-command="deardiary:import-bundle"]')
      .click()
  ]);
  await again.setFiles(zipPath!);
  await expect(dialog).toContainText('1 run was already in the store');
  await dialog.getByRole('button', { name: 'Ok' }).click();
  expect(await readRuns(notebook)).toHaveLength(1);

  // The run dated 2099 would come first in the other specs' lists: it goes.
  expect(
    (await page.request.delete(`/deardiary/runs/${back[0].id}`)).status()
  ).toBe(200);
});
