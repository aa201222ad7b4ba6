/**
 * The stale-manifest badge the README promises, in the real sidebar (issue 14): a run
 * whose Project.toml names a package its Manifest.toml lacks is marked, with what does not
 * match in its tooltip and in its details; a run whose files agree is not. Runs are added
 * over the store's API as another client would (tests/store.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { expect, test } from '@jupyterlab/galata';
import { makeRun } from '../../src/__tests__/helpers/sqljs';
import { autoCapture } from './lab';
import { addRuns } from './store';

test.use({ autoGoto: false, ...autoCapture('off') });

const FIXTURE = path.join(
  __dirname,
  '..',
  '..',
  'src',
  '__tests__',
  'fixtures',
  'manifests',
  'medium-directoptimalcontrol'
);

test('a run whose manifest lacks a dependency shows the stale badge, and only it', async ({
  page,
  tmpPath
}) => {
  const project = fs.readFileSync(path.join(FIXTURE, 'Project.toml'), 'utf8');
  const manifest = fs.readFileSync(path.join(FIXTURE, 'Manifest.toml'), 'utf8');
  const stamp = `stale-${Date.now()}`;
  const notebook = `${tmpPath}/stale.ipynb`;
  await addRuns([
    makeRun({
      notebook,
      project,
      manifest,
      note: `${stamp} fresh`,
      created_at: '2001-07-01T10:00:00Z'
    }),
    makeRun({
      notebook,
      project: project.replace(
        '[deps]\n',
        '[deps]\nZzz = "0f000000-0000-0000-0000-00000000000f"\n'
      ),
      manifest,
      note: `${stamp} stale`,
      created_at: '2001-07-02T10:00:00Z'
    })
  ]);
  await page.goto();
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  await page.getByRole('searchbox', { name: 'Filter runs' }).fill(stamp);
  const list = page.getByRole('listbox', { name: 'Recorded runs' });
  const stale = list.getByRole('option').filter({ hasText: `${stamp} stale` });
  const fresh = list.getByRole('option').filter({ hasText: `${stamp} fresh` });
  await expect(stale).toHaveCount(1);
  await expect(fresh).toHaveCount(1);

  const badge = stale.locator('.jp-DearDiary-badge-stale');
  await expect(badge).toHaveText('stale manifest', { timeout: 30000 });
  await expect(badge).toHaveAttribute(
    'title',
    /Zzz is in Project\.toml but not in the manifest/
  );
  await expect(fresh.locator('.jp-DearDiary-badge-stale')).toHaveCount(0);

  // Its details say it too.
  await stale.click();
  await expect(
    page.locator('#jp-DearDiary-historyPanel .jp-DearDiary-hint')
  ).toContainText(
    'The manifest does not match Project.toml: Zzz is in Project.toml but not in the manifest.',
    { timeout: 30000 }
  );
});
