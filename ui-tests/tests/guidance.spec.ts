/**
 * Issue 16 in a real JupyterLab: first-run guidance on a server with NO Julia kernelspec
 * (its own server: the Galata one has the TEST-ONLY Julia kernel), the run list's
 * relative times, badges and environment timeline at the sidebar's default width, and
 * the restore result (short hashes, human sizes, check marks, no word cut in two).
 */
import { expect, test } from '@jupyterlab/galata';
import { Page, test as plain } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';
import { makeRun } from '../../src/__tests__/helpers/sqljs';
import { autoCapture, JULIA_SPEC, notebookJSON, open, SNAPSHOT } from './lab';
import { OwnServer } from './server';
import { addRuns, readRuns } from './store';

const INSTALL = 'using Pkg; Pkg.add("IJulia")';

// A plain Playwright page: Galata's page fixture would talk to the Galata server.
plain.describe('no Julia kernel installed', () => {
  let server: OwnServer;

  plain.beforeEach(async () => {
    server = new OwnServer({ env: { DEARDIARY_UI_NO_JULIA: '1' } });
    await server.start();
  });

  plain.afterEach(({}, testInfo) => server.disposeAfter(testInfo));

  async function openLab(page: Page): Promise<void> {
    await server.openLab(page);
    await page.evaluate(async () => {
      await window.jupyterapp.restored;
      await window.jupyterapp.serviceManager.kernelspecs.ready;
    });
  }

  plain(
    'the sidebar and a one-time notification say how to install IJulia; commands say why',
    async ({ page }) => {
      plain.setTimeout(120000);
      await openLab(page);
      const languages = await page.evaluate(() =>
        Object.values(
          window.jupyterapp.serviceManager.kernelspecs.specs!.kernelspecs
        ).map(s => s!.language)
      );
      expect(languages).not.toContain('julia');

      // The notification: the command in its visible first line, the steps behind an action.
      const toast = page.locator('.Toastify__toast').filter({
        hasText: 'No Julia kernel is installed'
      });
      await expect(toast).toBeVisible({ timeout: 30000 });
      await expect(toast).toContainText(
        `No Julia kernel is installed. In Julia, run: ${INSTALL}`
      );
      await toast.getByRole('button', { name: 'How to install' }).click();
      const dialog = page.getByRole('dialog');
      await expect(dialog).toContainText('Install a Julia kernel (IJulia)');
      await expect(dialog.locator('pre').first()).toHaveText(INSTALL);
      await expect(dialog.locator('pre').nth(1)).toHaveText(
        'using IJulia; IJulia.installkernel("Julia")'
      );
      await dialog.getByRole('button', { name: 'Check again' }).click();
      await expect(
        page
          .locator('.Toastify__toast')
          .filter({ hasText: 'Still no Julia kernel' })
      ).toBeVisible();

      // The sidebar: the same steps above an empty list that says why it is empty.
      await page.evaluate(() =>
        window.jupyterapp.commands.execute('deardiary:open-history')
      );
      const box = page.getByRole('note', { name: 'No Julia kernel installed' });
      await expect(box).toBeVisible();
      await expect(box).toContainText(INSTALL);
      await expect(
        page.locator('.jp-DearDiary-runList .jp-DearDiary-empty')
      ).toContainText('Install a Julia kernel first');

      // Disabled commands say why, in their label (what menus and toolbars show; the
      // command palette of JupyterLab 4.6 leaves disabled commands out).
      const commands = await page.evaluate(() =>
        ['deardiary:show-environment', 'deardiary:instantiate'].map(id => [
          window.jupyterapp.commands.label(id),
          window.jupyterapp.commands.isEnabled(id)
        ])
      );
      expect(commands).toEqual([
        [
          'DearDiary: Show Kernel Environment (no Julia kernel installed)',
          false
        ],
        [
          'DearDiary: Install the Packages of This Notebook (Pkg.instantiate) (no Julia kernel installed)',
          false
        ]
      ]);

      // Restore a Run… with no runs says so instead of asking for an id.
      void page.evaluate(() =>
        window.jupyterapp.commands.execute('deardiary:restore')
      );
      const none = page.getByRole('dialog');
      await expect(none).toContainText('No runs to restore');
      await expect(none.getByRole('spinbutton')).toHaveCount(0);
      await none.getByRole('button', { name: 'Ok' }).click();

      // Once only: a reload of the same browser shows the sidebar's steps, no notification.
      await page.reload();
      await page.waitForFunction(() => !!window.jupyterapp, undefined, {
        timeout: 60000
      });
      await page.evaluate(async () => {
        await window.jupyterapp.restored;
        await window.jupyterapp.serviceManager.kernelspecs.ready;
        await window.jupyterapp.commands.execute('deardiary:open-history');
      });
      await expect(
        page.getByRole('note', { name: 'No Julia kernel installed' })
      ).toBeVisible();
      await expect(
        page.locator('.Toastify__toast').filter({
          hasText: 'No Julia kernel is installed'
        })
      ).toHaveCount(0);
    }
  );
});

test.describe('with runs', () => {
  test.use({ autoGoto: false, ...autoCapture('off') });

  test('relative times, badges and the environment timeline fit the default sidebar; the restore result is short and whole', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(120000);
    const stamp = `timeline-${Date.now()}`;
    // Its own notebook: a store kept from an earlier run of the tests has other runs.
    const notebook = `${tmpPath}/${stamp}.ipynb`;
    const ago = (minutes: number) =>
      new Date(Date.now() - minutes * 60000).toISOString();
    const yesterday = new Date();
    yesterday.setDate(yesterday.getDate() - 1);
    yesterday.setHours(12, 0, 0, 0);
    const manifest = (version: string) =>
      `julia_version = "1.10.4"\n[[deps.Example]]\nversion = "${version}"\n`;
    await addRuns([
      makeRun({
        notebook,
        created_at: yesterday.toISOString(),
        manifest: manifest('0.5.3'),
        note: `${stamp} first`
      }),
      makeRun({
        notebook,
        created_at: ago(120),
        manifest: manifest('0.5.3'),
        note: `${stamp} same`
      }),
      makeRun({
        notebook,
        created_at: ago(3),
        manifest: manifest('0.5.4'),
        note: `${stamp} bumped`
      })
    ]);
    const runs = await readRuns(notebook);
    expect(runs).toHaveLength(3);
    const newest = runs.find(r => r.number === 3)!;

    await page.goto();
    await page.evaluate(() =>
      window.jupyterapp.commands.execute('deardiary:open-history')
    );
    const list = page.getByRole('listbox', { name: 'Recorded runs' });
    await page.getByRole('searchbox', { name: 'Filter runs' }).fill(stamp);
    await expect(list.getByRole('option')).toHaveCount(3);

    const row = list.locator(`#jp-DearDiary-run-${newest.id}`);
    const time = row.locator('.jp-DearDiary-run-time');
    await expect(time).toHaveText(/^\d+ min\. ago$/);
    expect(await time.getAttribute('title')).toContain(
      String(new Date().getFullYear())
    );
    await expect(
      list
        .locator('.jp-DearDiary-run')
        .filter({ hasText: `${stamp} first` })
        .locator('.jp-DearDiary-run-time')
    ).toHaveText('yesterday');

    // Badges on their own line, whole (the Julia version short), at the default width.
    const julia = row.locator(
      '.jp-DearDiary-run-bottom .jp-DearDiary-badge-julia'
    );
    await expect(julia).toHaveText('1.10.4');
    await expect(row.locator('.jp-DearDiary-badge-envchange')).toBeVisible();
    const cut = await row.evaluate(node => {
      const edge = node.getBoundingClientRect().right;
      return [...node.querySelectorAll<HTMLElement>('.jp-DearDiary-badge')]
        .filter(
          b =>
            b.scrollWidth > b.clientWidth ||
            b.getBoundingClientRect().right > edge
        )
        .map(b => b.textContent);
    });
    expect(cut).toEqual([]);

    // The timeline: a mark per run, oldest first, the third where the manifest changed.
    const group = page
      .locator('.jp-DearDiary-group')
      .filter({ hasText: notebook });
    const marks = group.locator('.jp-DearDiary-timeline-mark');
    await expect(marks).toHaveCount(3);
    await expect(marks.nth(2)).toHaveClass(/jp-mod-changed/);
    await expect(marks.nth(1)).not.toHaveClass(/jp-mod-changed/);
    expect(await marks.nth(2).getAttribute('title')).toMatch(
      /^Run #3, \d+ min\. ago: the environment changed \(manifest [0-9a-f]{8}… → [0-9a-f]{8}…\)$/
    );
    await marks.nth(0).click();
    await expect(
      list.locator('.jp-DearDiary-run').filter({ hasText: `${stamp} first` })
    ).toHaveAttribute('aria-selected', 'true');

    // The restore result: short hashes (whole on hover, copied on click), sizes, checks.
    void page.evaluate(
      ([id, target]) =>
        window.jupyterapp.commands.execute('deardiary:restore', { id, target }),
      [newest.id, `${tmpPath}/restored`] as [number, string]
    );
    const preflight = page.getByRole('dialog');
    await preflight
      .getByRole('button', { name: 'Restore', exact: true })
      .click();
    const result = page
      .getByRole('dialog')
      .filter({ has: page.locator('.jp-DearDiary-restoredFiles') });
    const files = result.locator('.jp-DearDiary-restoredFiles tbody tr');
    await expect(files).toHaveCount(3);
    const project = files.filter({ hasText: 'Project.toml' });
    await expect(project.locator('td').nth(1)).toHaveText('14 bytes');
    await expect(project.locator('td').nth(3)).toHaveText(
      '\u2714\u00a0verified'
    );
    const hash = project.locator('.jp-DearDiary-hash');
    const full = (await hash.getAttribute('title'))!;
    expect(full).toMatch(/^[0-9a-f]{64}$/);
    await expect(hash).toHaveText(full.slice(0, 12));
    // Every file cell and heading on one line: no word cut in two ("verifie d", "Noteboo k").
    const wrapped = await result.evaluate(node =>
      [
        ...node.querySelectorAll<HTMLElement>(
          '.jp-DearDiary-resultTable th, .jp-DearDiary-restoredFiles td'
        )
      ]
        .filter(td => {
          const line = parseFloat(getComputedStyle(td).lineHeight) || 20;
          return td.getBoundingClientRect().height > 1.6 * line + 4;
        })
        .map(td => td.textContent)
    );
    expect(wrapped).toEqual([]);
    await hash.click();
    await expect(
      page
        .locator('.Toastify__toast')
        .filter({ hasText: `Copied sha256 Project.toml: ${full}` })
    ).toBeVisible();
    await result.getByRole('button', { name: 'Close' }).click();
  });
});

plain.describe('a store the server cannot write', () => {
  let server: OwnServer;
  const NOTEBOOK = 'cause/cause.ipynb';

  plain.beforeEach(async () => {
    server = new OwnServer();
    fs.mkdirSync(path.join(server.root, 'cause'));
    fs.writeFileSync(
      path.join(server.root, NOTEBOOK),
      JSON.stringify(notebookJSON(JULIA_SPEC, ['x = 1']))
    );
    // The store's folder is a file: the server cannot create the store (as root too).
    fs.writeFileSync(path.join(server.root, '.deardiary'), 'not a folder');
    await server.start();
  });

  plain.afterEach(({}, testInfo) => server.disposeAfter(testInfo));

  plain(
    'the toast names the cause first; the run is stored once it is fixed',
    async ({ page }) => {
      plain.setTimeout(180000);
      await server.openLab(page);
      await open(page, NOTEBOOK);
      await expect(page.locator(SNAPSHOT)).toBeVisible({ timeout: 60000 });
      await page.locator(SNAPSHOT).click();
      const toast = page.locator('.Toastify__toast').filter({
        hasText: 'Cannot write the store'
      });
      await expect(toast).toContainText(
        'Cannot write the store at .deardiary/deardiary.sqlite: .deardiary is a file, not a folder. The run is kept in this browser.',
        { timeout: 60000 }
      );
      await toast.getByRole('button', { name: 'Details' }).click();
      const details = page.getByRole('dialog');
      await expect(details).toContainText('Move that file away');
      await details
        .getByRole('button', { name: /Dismiss|Ok|Close/ })
        .first()
        .click();

      // Fixed: the waiting run is sent (nothing lost), and git would not see the store.
      fs.rmSync(path.join(server.root, '.deardiary'));
      await expect
        .poll(async () => (await readRuns(NOTEBOOK, server)).length, {
          timeout: 120000,
          intervals: [1000]
        })
        .toBe(1);
      expect(
        fs.readFileSync(
          path.join(server.root, '.deardiary', '.gitignore'),
          'utf8'
        )
      ).toContain('\n*\n');
    }
  );
});
