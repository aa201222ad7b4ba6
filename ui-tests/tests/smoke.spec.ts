/**
 * The smoke path of every frontend we claim (issue 19), short enough to run on the
 * oldest and the newest JupyterLab of the range and with real-time collaboration
 * (scripts/frontends.sh): automatic capture at kernel start, the button, the sidebar,
 * restore and reopen in a new kernel that reports the restored project.
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';
import { juliaNotebook, notifications, serverRuns, SNAPSHOT } from './lab';
import { unsatisfiedOfOurs } from './range';
import { ROOT, writeProject } from './store';

test.use({ autoGoto: false }); // the page is loaded once the console is listened to

test('smoke: capture, button, sidebar, restore and reopen', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(180000);
  // JupyterLab's own check of the range we build against (package.json's core-meta).
  const unsatisfied = unsatisfiedOfOurs(page);
  await page.goto();
  writeProject(tmpPath, 'name = "Smoke"\n');
  const notebook = `${tmpPath}/smoke.ipynb`;
  await juliaNotebook(page, notebook, ['x = 1 + 1']);
  // scripts/frontends.sh's RTC run: the notebook really is shared through
  // jupyter-collaboration's drive (a broken install would fall back silently).
  const collaborative = await page.evaluate(
    () =>
      (window.jupyterapp.shell.currentWidget as any).context.model.collaborative
  );
  expect(collaborative).toBe(process.env.DEARDIARY_UI_RTC === '1');

  // Automatic capture (the default setting): the first execution records the start.
  await page.notebook.runCell(0);
  const triggers = async () =>
    (await serverRuns(page, notebook)).map(r => r.trigger);
  await expect.poll(triggers, { timeout: 60000 }).toEqual(['kernel-start']);
  // The user changed nothing (JupyterLab marks the model dirty all the same).
  expect((await serverRuns(page, notebook))[0].notebook_unsaved).toBe(false);

  // The button.
  await page.locator(SNAPSHOT).click();
  await expect
    .poll(triggers, { timeout: 60000 })
    .toEqual(['button', 'kernel-start']);

  // The sidebar lists both (the store may hold other tests' runs: filter by folder).
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  await page
    .getByRole('searchbox', { name: 'Filter runs' })
    .fill(`nb:${tmpPath}/`);
  const list = page.getByRole('listbox', { name: 'Recorded runs' });
  await expect(list.getByRole('option')).toHaveCount(2);

  // Restore the button's run and reopen it in a new kernel.
  const [run] = await serverRuns(page, notebook);
  const target = `${tmpPath}/restored`;
  await page.evaluate(
    ({ id, target }) => {
      void window.jupyterapp.commands.execute('deardiary:restore', {
        id,
        target
      });
    },
    { id: run.id, target }
  );
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText(`Restore run #${run.number}`);
  await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(dialog).toContainText(
    `Run #${run.number} (iteration ${run.id}) restored`
  );
  await dialog.getByRole('button', { name: 'Open in a new kernel' }).click();
  const projectFile = path.join(fs.realpathSync(ROOT), target, 'Project.toml');
  await expect
    .poll(() => notifications(page), { timeout: 90000 })
    .toContainEqual(
      expect.stringContaining(
        `The kernel runs the restored project ${projectFile}.`
      )
    );
  expect(unsatisfied).toEqual([]);
});
