/**
 * "Stop waiting" on the notice of a click that waits behind a running cell (issue 14):
 * the user stops it, the notice goes, nothing is said to have failed, and that click
 * records nothing, then or when the cell ends. Real JupyterLab, Debian Chromium and the
 * TEST-ONLY Julia kernel (see ui-tests/test-kernel/README.md).
 */
import { expect, test } from '@jupyterlab/galata';
import { autoCapture, juliaNotebook, SNAPSHOT } from './lab';
import { readRuns, writeProject } from './store';

test.use({ autoGoto: true, ...autoCapture('kernel-start-and-changes') });

const CELL_NOTICE = 'Waiting for the kernel to finish the running cell…';

test('Stop waiting on a click queued behind a running cell records nothing for it', async ({
  page,
  tmpPath
}) => {
  writeProject(tmpPath, 'name = "Stopped"\n');
  const notebook = `${tmpPath}/stopped.ipynb`;
  await juliaNotebook(page, notebook, ['sleep(10); "done"']);
  await expect(page.locator(SNAPSHOT)).toBeVisible({ timeout: 60000 });
  const known = (await readRuns(notebook)).length; // the store outlives the test
  const newRuns = async () =>
    (await readRuns(notebook))
      .slice(known)
      .map(r => r.trigger)
      .sort();
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as any).deardiaryNotices = seen;
    window.galata.on('notification', n => seen.push(n.message));
    // The cell starts while automatic capture is still opening its comm, which then
    // waits behind the cell (as in kernel-wait.spec.ts).
    void window.jupyterapp.commands.execute('notebook:run-cell');
  });
  // Click while the cell runs: the click joins the connection queued behind it.
  await expect(
    page.locator('.jp-Notebook .jp-Cell .jp-InputPrompt').first()
  ).toHaveText('[*]:', { timeout: 10000 });
  await page.locator(SNAPSHOT).click();

  const stop = page.getByRole('button', { name: 'Stop waiting' });
  await expect(stop).toBeVisible({ timeout: 5000 });
  await stop.click();
  await expect(stop).toHaveCount(0);
  await expect(page.getByText(CELL_NOTICE)).toHaveCount(0);

  // The cell ends; the kernel's start is recorded (automatic capture was not stopped).
  await expect(
    page.locator('.jp-Notebook .jp-Cell .jp-OutputArea-output').first()
  ).toHaveText('"done"', { timeout: 60000 });
  await expect.poll(newRuns, { timeout: 60000 }).toEqual(['kernel-start']);

  // A click now is stored at once, and alone: the stopped one never follows it.
  await page.locator(SNAPSHOT).click();
  await expect
    .poll(
      () =>
        page.evaluate(() =>
          ((window as any).deardiaryNotices as string[]).filter(m =>
            /^(Run #\d+ saved|The run was not saved)/.test(m)
          )
        ),
      { timeout: 60000 }
    )
    .toEqual([expect.stringMatching(/^Run #\d+ saved$/)]);
  expect(await newRuns()).toEqual(['button', 'kernel-start']);
  const notices: string[] = await page.evaluate(
    () => (window as any).deardiaryNotices
  );
  expect(notices).toContain(CELL_NOTICE);
});
