/**
 * Notebook 7 (what IJulia's `notebook()` opens), with plain Playwright steps: Galata's
 * page fixtures assume JupyterLab. Run by scripts/frontends.sh with
 * DEARDIARY_UI_FRONTEND=notebook (ui-tests/playwright.config.js serves `jupyter notebook`).
 * The smoke path: automatic capture, the button, the sidebar, restore, and reopen in a
 * new kernel: Notebook 7 opens the notebook in a NEW browser tab, and the restore still
 * confirms the restored project and installs its packages.
 */
import { expect, Page, test } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';
import {
  JULIA_SPEC,
  kernelIdle,
  notebookJSON,
  serverRuns,
  SNAPSHOT
} from '../lab';
import { unsatisfiedOfOurs } from '../range';
import { ROOT, writeProject } from '../store';

const toasts = (page: Page) => page.locator('.Toastify');

// Plain Playwright tracks no kernels (Galata does): shut down the ones this test started,
// or they outlive the server and keep its output open, and Playwright waits forever.
test.afterEach(async ({ request }) => {
  const kernels = await (await request.get('/api/kernels')).json();
  for (const kernel of kernels) {
    await request.delete(`/api/kernels/${kernel.id}`);
  }
});

test('Notebook 7: capture, button, sidebar, restore and reopen in a new tab', async ({
  page,
  context
}) => {
  test.setTimeout(240000);
  page.on('console', m => {
    if (m.type() === 'error' || m.type() === 'warning') {
      process.stdout.write(`[page ${m.type()}] ${m.text()}\n`);
    }
  });
  // JupyterLab's own check of the range we build against.
  const unsatisfied = unsatisfiedOfOurs(page);
  const dir = `nb7-${Date.now()}`;
  fs.mkdirSync(path.join(ROOT, dir), { recursive: true });
  writeProject(dir, 'name = "Smoke"\n');
  const notebook = `${dir}/smoke.ipynb`;
  const created = await page.request.put(`/api/contents/${notebook}`, {
    data: {
      type: 'notebook',
      format: 'json',
      content: notebookJSON(JULIA_SPEC, ['x = 1 + 1'])
    }
  });
  expect(created.ok()).toBe(true);

  await page.goto(`notebooks/${notebook}`);
  await kernelIdle(page, notebook);

  // Automatic capture (the default setting) at the first execution (the kernel is
  // connected: the cell runs, see kernelIdle).
  await page.locator('.jp-Cell').first().click();
  await page.keyboard.press('Shift+Enter');
  await expect(page.locator('.jp-InputPrompt').first()).toHaveText('[1]:', {
    timeout: 60000
  });
  const triggers = async () =>
    (await serverRuns(page, notebook)).map(r => r.trigger);
  await expect.poll(triggers, { timeout: 60000 }).toEqual(['kernel-start']);
  // The user changed nothing (Shift+Enter on the last cell appended an empty one).
  expect((await serverRuns(page, notebook))[0].notebook_unsaved).toBe(false);

  // The button in Notebook 7's toolbar.
  await page.locator(SNAPSHOT).click();
  await expect
    .poll(triggers, { timeout: 60000 })
    .toEqual(['button', 'kernel-start']);

  // The sidebar (View → Left Sidebar) lists both (with --repeat-each the store holds
  // the earlier repetitions' runs: filter by folder).
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('deardiary:open-history')
  );
  await page.getByRole('searchbox', { name: 'Filter runs' }).fill(`nb:${dir}/`);
  const list = page.getByRole('listbox', { name: 'Recorded runs' });
  await expect(list.getByRole('option')).toHaveCount(2);

  // Restore, reopen: the notebook opens in a new tab, this page follows its kernel.
  const [run] = await serverRuns(page, notebook);
  const target = `${dir}/restored`;
  await page.evaluate(
    ({ id, target }) => {
      void (window as any).jupyterapp.commands.execute('deardiary:restore', {
        id,
        target
      });
    },
    { id: run.id, target }
  );
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText(`Restore run #${run.number}`);
  await dialog
    .getByRole('checkbox', { name: /Then install the packages/ })
    .check();
  await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(dialog).toContainText(
    `Run #${run.number} (iteration ${run.id}) restored`
  );
  const opened = context.waitForEvent('page');
  await dialog.getByRole('button', { name: 'Open in a new kernel' }).click();
  const tab = await opened;
  await expect(tab).toHaveURL(
    new RegExp(`/notebooks/${target}/smoke\\.ipynb$`)
  );
  await kernelIdle(tab, `${target}/smoke.ipynb`);

  const projectFile = path.join(fs.realpathSync(ROOT), target, 'Project.toml');
  await expect(toasts(page)).toContainText(
    `The kernel runs the restored project ${projectFile}.`,
    { timeout: 90000 }
  );
  await expect(toasts(page)).toContainText(
    `The packages of ${target}/smoke.ipynb are installed`,
    { timeout: 120000 }
  );
  await expect(page.locator('.jp-DearDiary-instantiateLog')).toContainText(
    'Pkg.instantiate() finished'
  );

  // The new tab runs the restored project in the kernel this page followed.
  const sessions = await (await page.request.get('/api/sessions')).json();
  const restored = sessions.filter(
    (s: any) => s.path === `${target}/smoke.ipynb`
  );
  expect(restored).toHaveLength(1);
  expect(restored[0].kernel.name).toBe(JULIA_SPEC.name);
  expect(unsatisfied).toEqual([]);
});
