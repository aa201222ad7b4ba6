/**
 * User paths the README promises, walked in a real JupyterLab with the TEST-ONLY Julia
 * kernel (see ui-tests/test-kernel/README.md): the Accel+Alt+S shortcut, *Show Kernel
 * Environment* from the command palette, deleting a run from its details, and the
 * sidebar's line on whether the live kernel still matches the notebook's last run.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  autoCapture,
  juliaNotebook,
  IServerRun,
  notifications,
  serverRuns,
  SNAPSHOT
} from './lab';
import { readRuns, ROOT, writeProject } from './store';

test.use({ autoGoto: true, ...autoCapture('off') });

const sha256 = (bytes: Buffer) =>
  createHash('sha256').update(bytes).digest('hex');

/** Click the snapshot button; the new run of `notebook`, once it is stored and said. */
async function snapshot(page: IJupyterLabPageFixture, notebook: string) {
  const known = new Set((await serverRuns(page, notebook)).map(r => r.id));
  await page.locator(SNAPSHOT).click();
  let added: IServerRun[] = [];
  await expect
    .poll(
      async () =>
        (added = (await serverRuns(page, notebook)).filter(
          r => !known.has(r.id)
        )).length,
      { timeout: 60000 }
    )
    .toBe(1);
  await expect
    .poll(() => notifications(page))
    .toContain(`Run #${added[0].number} saved`);
  return added[0];
}

/** Open the history sidebar and show only the runs of the notebooks under `folder`. */
async function history(page: IJupyterLabPageFixture, folder: string) {
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  await page
    .getByRole('searchbox', { name: 'Filter runs' })
    .fill(`nb:${folder}/`);
  return page.getByRole('listbox', { name: 'Recorded runs' });
}

test('Accel+Alt+S in a Julia notebook records a run', async ({
  page,
  tmpPath
}) => {
  writeProject(tmpPath, 'name = "Shortcut"\n');
  const notebook = `${tmpPath}/shortcut.ipynb`;
  await juliaNotebook(page, notebook, ['x = 1']);
  // The command is enabled once the kernel is known to be Julia (the button shows it).
  await expect(page.locator(SNAPSHOT)).toBeVisible({ timeout: 60000 });
  const known = (await readRuns(notebook)).length; // the store outlives the test

  // Focus in the notebook (command mode), then the shortcut: nothing else.
  await page.locator('.jp-Cell').first().click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+Alt+KeyS');

  await expect
    .poll(async () => (await readRuns(notebook)).length - known, {
      timeout: 60000
    })
    .toBe(1);
  const [run] = (await readRuns(notebook)).slice(known);
  expect(run.trigger).toBe('button');
  expect(path.basename(run.project_path)).toBe('Project.toml');
  await expect
    .poll(() => notifications(page))
    .toContain(`Run #${run.number} saved`);
});

test('Show Kernel Environment (command palette) shows the live kernel: Julia, project, manifest, hashes', async ({
  page,
  tmpPath
}) => {
  writeProject(tmpPath, 'name = "Shown"\n');
  const notebook = `${tmpPath}/shown.ipynb`;
  await juliaNotebook(page, notebook, [
    'print(VERSION, "|", Base.active_project())'
  ]);
  // What the kernel itself says it runs.
  await page.notebook.runCell(0);
  const output = (await page.notebook.getCellOutputLocator(0))!;
  await expect(output).toContainText('|');
  const [version, project] = (await output.innerText()).trim().split('|');
  expect(version).toBe('1.5.3');
  const folder = path.join(fs.realpathSync(ROOT), tmpPath);
  expect(project).toBe(path.join(folder, 'Project.toml'));

  await page.keyboard.press('Control+Shift+C');
  await page
    .getByRole('textbox', { name: /search/i })
    .first()
    .fill('Show Kernel Environment');
  await page
    .getByRole('menuitem', { name: /DearDiary: Show Kernel Environment/ })
    .click();

  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('Kernel environment', { timeout: 60000 });
  const body = dialog.locator('.jp-DearDiary-environment');
  await expect(body).toContainText(`Julia ${version}`);
  await expect(body).toContainText(`Project: ${project}`);
  for (const name of ['Project.toml', 'Manifest.toml']) {
    const bytes = fs.readFileSync(path.join(folder, name));
    await expect(body).toContainText(
      `${name}: ${bytes.length} B, sha256 ${sha256(bytes).slice(0, 12)}…`
    );
  }
  await expect(body).not.toContainText('No manifest');
  await dialog.getByRole('button', { name: 'Ok' }).click();
  await expect(dialog).toHaveCount(0);
});

test('deleting a run from its details removes it from the sidebar and the store, and only it', async ({
  page,
  tmpPath
}) => {
  writeProject(tmpPath, 'name = "Deleted"\n');
  const notebook = `${tmpPath}/deleted.ipynb`;
  await juliaNotebook(page, notebook, ['x = 1']);
  const before = await serverRuns(page, notebook); // the store outlives the test
  const [a, b, c] = [
    await snapshot(page, notebook),
    await snapshot(page, notebook),
    await snapshot(page, notebook)
  ];
  const ids = async () =>
    (await serverRuns(page, notebook)).map(r => r.id).sort((x, y) => x - y);
  const everything = [...before.map(r => r.id), a.id, b.id, c.id].sort(
    (x, y) => x - y
  );
  expect(await ids()).toEqual(everything);

  const list = await history(page, tmpPath);
  const option = (n: number) =>
    list.getByRole('option', { name: new RegExp(`^Run ${n} of ${notebook},`) });
  await expect(list.getByRole('option')).toHaveCount(everything.length);
  await option(b.number).click();
  const details = page.locator('.jp-DearDiary-details');
  await expect(details).toContainText(`Run #${b.number}`);

  // Cancelling the confirmation keeps the run.
  await details.getByRole('button', { name: 'Delete run…' }).click();
  const confirm = page.getByRole('dialog');
  await expect(confirm).toContainText(`Delete run #${b.number}?`);
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toHaveCount(0);
  await expect(option(b.number)).toHaveCount(1);
  expect(await ids()).toEqual(everything);

  await details.getByRole('button', { name: 'Delete run…' }).click();
  await expect(confirm).toContainText(`Delete run #${b.number}?`);
  await expect(confirm).toContainText(notebook);
  await confirm.getByRole('button', { name: 'Delete', exact: true }).click();

  await expect
    .poll(() => notifications(page), { timeout: 30000 })
    .toContain(`Run #${b.number} deleted`);
  await expect(option(b.number)).toHaveCount(0);
  await expect(list.getByRole('option')).toHaveCount(everything.length - 1);
  await expect(option(a.number)).toHaveCount(1);
  await expect(option(c.number)).toHaveCount(1);
  // The server reads the store file: that run is gone from it, the others stay.
  const rest = everything.filter(id => id !== b.id);
  await expect.poll(ids).toEqual(rest);
  expect((await readRuns(notebook)).map(r => r.id)).toEqual(rest);
});

test('the sidebar says whether the live kernel still matches the last run', async ({
  page,
  tmpPath
}) => {
  writeProject(tmpPath, 'name = "Drifting"\n');
  writeProject(`${tmpPath}/other`, 'name = "Other"\n');
  const notebook = `${tmpPath}/drift.ipynb`;
  await juliaNotebook(page, notebook, [
    'import Pkg; Pkg.activate("other")',
    'Pkg.activate(".")'
  ]);
  const run = await snapshot(page, notebook);
  await history(page, tmpPath);
  const drift = page.locator('.jp-DearDiary-drift');
  // The snapshot wrote the run into the notebook (issue 16): drift names it as the
  // run the outputs come from.
  const matches = `The kernel still matches run #${run.number}, which made these outputs.`;
  await expect(drift).toHaveText(matches, { timeout: 30000 });

  // Another active project (offline: a stdlib-only project of the root).
  await page.notebook.runCell(0);
  const folder = path.join(fs.realpathSync(ROOT), tmpPath);
  await expect(drift).toHaveText(
    `The kernel changed since run #${run.number}, which made these outputs: active project ` +
      `${path.join(folder, 'Project.toml')} → ${path.join(folder, 'other', 'Project.toml')}; ` +
      'Project.toml changed',
    { timeout: 30000 }
  );

  // Back to the notebook's project: it matches again.
  await page.notebook.runCell(1);
  await expect(drift).toHaveText(matches, { timeout: 30000 });
});
