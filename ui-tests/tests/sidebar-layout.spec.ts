/**
 * The history sidebar's run list takes the room it has: in a 1280x900 window it is most
 * of the sidebar, not a one-row strip under the header (it is virtualized, so its height
 * must come from the layout).
 */
import { expect, test } from '@jupyterlab/galata';
import { makeRun } from '../../src/__tests__/helpers/sqljs';
import { autoCapture } from './lab';
import { addRuns } from './store';

test.use({
  autoGoto: false,
  viewport: { width: 1280, height: 900 },
  ...autoCapture('off')
});

test('the run list fills most of the sidebar', async ({ page, tmpPath }) => {
  const notebook = `${tmpPath}/layout.ipynb`;
  const stamp = `layout-${Date.now()}`;
  await addRuns(
    [
      // Old: the runs other tests expect first stay first.
      '2001-06-01T10:00:00Z',
      '2001-06-02T10:00:00Z',
      '2001-06-03T10:00:00Z'
    ].map((created_at, i) =>
      makeRun({ notebook, created_at, note: `${stamp} ${i + 1}` })
    )
  );
  // Added by another client before this page loads (an open tab learns of other
  // clients' runs when it is shown again).
  await page.goto();
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  const list = page.getByRole('listbox', { name: 'Recorded runs' });
  // Only these runs (others may be recorded before them).
  await page.getByRole('searchbox', { name: 'Filter runs' }).fill(stamp);
  await expect(list.getByRole('option').filter({ hasText: stamp })).toHaveCount(
    3
  );

  const panel = await page.locator('#jp-DearDiary-historyPanel').boundingBox();
  const box = await list.boundingBox();
  expect(panel).not.toBeNull();
  expect(box).not.toBeNull();
  // More than the three runs' rows (a virtualized list is as tall as its layout makes it).
  const row = await list.getByRole('option').first().boundingBox();
  expect(box!.height).toBeGreaterThan(3 * row!.height);
  expect(box!.height).toBeGreaterThan(0.5 * panel!.height);
});
