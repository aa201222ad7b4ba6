/**
 * Issue 19: a run's unsaved flag means the user's unsaved edits only. In a real
 * JupyterLab the notebook's model is dirty as soon as it is opened and a cell ran (the
 * kernel writes language_info, outputs and counts change), yet the user changed nothing:
 * the kernel-start run and a click before any edit are not flagged. A click after the
 * user typed in a cell is; after saving, it is not any more. Real JupyterLab, Debian
 * Chromium and the TEST-ONLY Julia kernel; the flags read from GET /deardiary/runs.
 */
import { expect, test } from '@jupyterlab/galata';
import { autoCapture, juliaNotebook, SNAPSHOT } from './lab';
import { readRuns, writeProject } from './store';

test.use({ autoGoto: true, ...autoCapture('kernel-start') });

test('only the user\u2019s edits flag a run as unsaved', async ({
  page,
  tmpPath
}) => {
  writeProject(tmpPath, 'name = "Unsaved"\n');
  const notebook = `${tmpPath}/unsaved.ipynb`;
  await juliaNotebook(page, notebook, ['x = 1']);
  const known = (await readRuns(notebook)).length; // the store outlives the test
  const flags = async () =>
    (await readRuns(notebook))
      .slice(known)
      .map(r => `${r.trigger}:${r.notebook_unsaved}`);
  const click = async (expected: string[]) => {
    await page.locator(SNAPSHOT).click();
    await expect.poll(flags, { timeout: 60000 }).toEqual(expected);
  };

  // The kernel start, recorded at the first execution.
  await page.notebook.runCell(0);
  await expect.poll(flags, { timeout: 60000 }).toEqual(['kernel-start:false']);
  // What flagged every kernel-start run before: the model is dirty all the same.
  const dirty = () =>
    page.evaluate(
      () => (window.jupyterapp.shell.currentWidget as any).context.model.dirty
    );
  expect(await dirty()).toBe(true);

  await click(['kernel-start:false', 'button:false']);

  // The user's edit.
  await page.notebook.setCell(0, 'code', 'x = 2');
  await click(['kernel-start:false', 'button:false', 'button:true']);

  // Saved: nothing unsaved any more.
  await page.notebook.save();
  expect(await dirty()).toBe(false);
  await click([
    'kernel-start:false',
    'button:false',
    'button:true',
    'button:false'
  ]);
});
