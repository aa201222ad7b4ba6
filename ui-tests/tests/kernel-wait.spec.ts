/**
 * A click that has to wait for the kernel: during a restart, and behind a cell that
 * started before DearDiary's comm was open. Real JupyterLab, Debian Chromium and the
 * TEST-ONLY Julia kernel (see ui-tests/test-kernel/README.md).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { autoCapture, juliaNotebook, SNAPSHOT } from './lab';
import { readRuns, writeProject } from './store';

test.use({ autoGoto: true, ...autoCapture('kernel-start-and-changes') });

const RESTART_NOTICE = 'Waiting for the kernel to restart…';
const CELL_NOTICE = 'Waiting for the kernel to finish the running cell…';

/** From now on, keep every notification message shown or updated in the page. */
async function recordNotices(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as any).deardiaryNotices = seen;
    window.galata.on('notification', n => seen.push(n.message));
  });
}

const notices = (page: IJupyterLabPageFixture): Promise<string[]> =>
  page.evaluate(() => (window as any).deardiaryNotices as string[]);

/** The triggers of the runs of `notebook` stored after the first `known` ones. */
async function newRuns(notebook: string, known: number): Promise<string[]> {
  return (await readRuns(notebook)).slice(known).map(r => r.trigger);
}

/** The outcome of the click: its success or failure notification. */
async function outcome(page: IJupyterLabPageFixture): Promise<string> {
  let found: string | undefined;
  await expect
    .poll(
      async () =>
        (found = (await notices(page)).find(m =>
          /^(Run #\d+ saved|The run was not saved)/.test(m)
        )),
      { timeout: 90000 }
    )
    .toBeTruthy();
  return found!;
}

test.describe('restart', () => {
  // Galata's tracking of kernels answers POST /api/kernels/<id>/restart with 201, which
  // JupyterLab takes for a failed restart (it then never reconnects): let it through.
  test.use({ kernels: null });

  test('a click during a restart is carried over to the new kernel and stored once', async ({
    page,
    tmpPath
  }) => {
    writeProject(tmpPath, 'name = "Restarted"\n');
    const notebook = `${tmpPath}/restart.ipynb`;
    await juliaNotebook(page, notebook, ['x = 1']);
    // Shown once the kernel is known to be Julia.
    await expect(page.locator(SNAPSHOT)).toBeVisible({ timeout: 60000 });
    await recordNotices(page);
    const known = (await readRuns(notebook)).length; // the store outlives the test

    await page
      .getByRole('button', { name: 'Restart the kernel', exact: true })
      .click();
    await page.getByRole('button', { name: 'Confirm Kernel Restart' }).click();
    await page.locator(SNAPSHOT).click();

    expect(await outcome(page)).toMatch(/^Run #\d+ saved$/);
    const seen = await notices(page);
    expect(seen).toContain(RESTART_NOTICE);
    expect(seen).not.toContain(CELL_NOTICE);
    expect(await newRuns(notebook, known)).toEqual(['button']);

    // The click recorded the new kernel's start: its first execution adds nothing.
    await page.notebook.runCell(0);
    await page.waitForTimeout(2500); // past the change check's debounce
    expect(await newRuns(notebook, known)).toEqual(['button']);
  });
});

test('a click behind a cell that started before the comm was open says it waits', async ({
  page,
  tmpPath
}) => {
  writeProject(tmpPath, 'name = "Queued"\n');
  const notebook = `${tmpPath}/queued.ipynb`;
  await juliaNotebook(page, notebook, ['sleep(8)']);
  await expect(page.locator(SNAPSHOT)).toBeVisible({ timeout: 60000 });
  const known = (await readRuns(notebook)).length; // the store outlives the test
  // At once: automatic capture is still injecting its code or opening its comm, and
  // that now waits behind the cell.
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('notebook:run-cell');
  });
  await recordNotices(page);
  // Click while the cell runs (not before the kernel started it): the first execution
  // of a fresh kernel is the only thing that can delay it, by less than a second.
  await page.waitForTimeout(1500);
  await page.locator(SNAPSHOT).click();

  await expect(page.getByRole('button', { name: 'Stop waiting' })).toBeVisible({
    timeout: 2000
  });
  expect(await notices(page)).toContain(CELL_NOTICE);
  expect(await outcome(page)).toMatch(/^Run #\d+ saved$/);
  expect((await newRuns(notebook, known)).sort()).toEqual([
    'button',
    'kernel-start'
  ]);
});
