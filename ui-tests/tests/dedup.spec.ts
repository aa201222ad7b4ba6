/**
 * Automatic capture records a kernel's start once, whatever number of JupyterLab views
 * of the notebook see that kernel: a page reload and a second tab connect to the same
 * kernel, which arbitrates (the first `kernel-start` claim wins). End to end: real
 * JupyterLab, Debian Chromium, the TEST-ONLY Julia kernel, the run list read from the
 * store file by the server (GET /deardiary/runs).
 */
import { expect, test } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import { autoCapture, juliaNotebook, open, serverRuns, SNAPSHOT } from './lab';
import { writeProject } from './store';

test.use({ autoGoto: true, ...autoCapture('kernel-start-and-changes') });

/** The id of the kernel of the notebook in front of `page`. */
const kernelId = (page: Page): Promise<string> =>
  page.evaluate(async () => {
    const context = (window.jupyterapp.shell.currentWidget as any)
      .sessionContext;
    await context.ready;
    return context.session.kernel.id as string;
  });

/**
 * Run the notebook in front of `page`: its one cell counts the executions in this kernel
 * process, and `count` must be shown (the same kernel, and this execution happened).
 */
async function execute(page: Page, count: number) {
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('notebook:run-all-cells')
  );
  await expect(
    page.locator(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .jp-OutputArea-output'
    )
  ).toHaveText(String(count), { timeout: 60000 });
}

test('a page reload and a second tab do not record the same kernel start again', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(180000);
  writeProject(tmpPath, 'name = "Once"\n');
  const notebook = `${tmpPath}/once.ipynb`;
  await juliaNotebook(page, notebook, [
    'global executions = (isdefined(Main, :executions) ? executions : 0) + 1'
  ]);
  const kernel = await kernelId(page);
  // (runs of an earlier try of this test, in a server root that was not wiped)
  const before = new Set((await serverRuns(page, notebook)).map(r => r.id));
  const triggers = async () =>
    (await serverRuns(page, notebook))
      .filter(r => !before.has(r.id))
      .map(r => r.trigger)
      .sort();

  // The kernel's start, stored at the first execution.
  await execute(page, 1);
  await expect.poll(triggers, { timeout: 60000 }).toEqual(['kernel-start']);

  // A reload: the same kernel, a new frontend that executes again.
  await page.reload({ waitForIsReady: false });
  await page.waitForFunction(() => !!window.jupyterapp, undefined, {
    timeout: 60000
  });
  await open(page, notebook);
  expect(await kernelId(page)).toBe(kernel);
  await expect(page.locator(SNAPSHOT)).toBeVisible({ timeout: 60000 });
  await execute(page, 2);
  // Anything that execution stored is stored before a snapshot taken after it.
  await page.locator(SNAPSHOT).click();
  await expect
    .poll(triggers, { timeout: 60000 })
    .toEqual(['button', 'kernel-start']);

  // A second tab of the same notebook (its own workspace, else JupyterLab navigates).
  const second = await page.context().newPage();
  await second.goto(new URL('/lab/workspaces/dedup-second', page.url()).href);
  await second.waitForFunction(() => !!window.jupyterapp, undefined, {
    timeout: 60000
  });
  await open(second, notebook);
  expect(await kernelId(second)).toBe(kernel);
  await expect(second.locator(SNAPSHOT)).toBeVisible({ timeout: 60000 });
  await execute(second, 3);
  await second.locator(SNAPSHOT).click();
  await expect
    .poll(triggers, { timeout: 60000 })
    .toEqual(['button', 'button', 'kernel-start']);
  // And the first tab, executing once more, adds nothing either.
  await execute(page, 4);
  await page.locator(SNAPSHOT).click();
  await expect
    .poll(triggers, { timeout: 60000 })
    .toEqual(['button', 'button', 'button', 'kernel-start']);
  await second.close();
});
