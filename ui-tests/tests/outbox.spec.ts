/**
 * Runs that could not reach the server are never lost (issue 13, docs/store.md "Runs
 * that cannot reach the server"): the server stops while a click's run is being sent;
 * the run waits in the browser (IndexedDB) and is stored once when the server is back,
 * with no further action, also after the tab was closed and another one opened.
 *
 * Each test runs its own JupyterLab (tests/server.ts: the Galata server's configuration,
 * its own port, root and token) in a plain Playwright page, so that it can stop it and
 * start it again on the same port and root (same origin: the same IndexedDB).
 */
import { expect, Page, test } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';
import { JULIA_SPEC, notebookJSON, open, SNAPSHOT } from './lab';
import { OwnServer } from './server';
import { readRuns, writeProject } from './store';

const NOTEBOOK = 'outbox/outbox.ipynb';

let server: OwnServer;

test.beforeEach(async () => {
  server = new OwnServer();
  writeProject('outbox', 'name = "Outbox"\n', server.root);
  fs.writeFileSync(
    path.join(server.root, NOTEBOOK),
    JSON.stringify(notebookJSON(JULIA_SPEC, ['x = 1']))
  );
  await server.start();
});

test.afterEach(({}, testInfo) => server.disposeAfter(testInfo));

/** JupyterLab of the test's server, with the notebook open and its kernel idle. */
async function openLab(page: Page): Promise<void> {
  await server.openLab(page);
  await open(page, NOTEBOOK);
  await expect(page.locator(SNAPSHOT)).toBeVisible({ timeout: 60000 });
}

/**
 * Stop the server when the page first asks it which blobs it lacks: the run is
 * captured (the kernel answered) and is being sent. The request then fails as a lost
 * server's would.
 */
async function stopServerWhenStoring(page: Page): Promise<void> {
  const storing = (url: URL) =>
    url.pathname.endsWith('/deardiary/blobs/missing');
  let stopped = false;
  await page.route(storing, async route => {
    if (!stopped) {
      stopped = true;
      await server.stop();
    }
    await route.continue().catch(() => undefined);
  });
}

const toasts = (page: Page) => page.locator('.Toastify');

/** The runs of the notebook on the server, by trigger. */
const stored = async () =>
  (await readRuns(NOTEBOOK, server)).map(r => r.trigger);

test('a run sent while the server stops is stored once when it is back', async ({
  page
}) => {
  test.setTimeout(240000);
  await openLab(page);
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  const waiting = page.getByText(/^1 run waiting to be stored$/);
  await expect(waiting).toBeHidden();

  await stopServerWhenStoring(page);
  await page.locator(SNAPSHOT).click();
  // What matters first (a toast shows the first 140 characters of the message).
  await expect(toasts(page)).toContainText(
    'Run kept in this browser: it is stored when the server answers (1 run waiting).',
    { timeout: 60000 }
  );
  await expect(waiting).toBeVisible();

  // Back on the same port and root; nobody touches the page.
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await server.start();
  await expect
    .poll(stored, { timeout: 120000, intervals: [500] })
    .toEqual(['button']);
  await expect(waiting).toBeHidden({ timeout: 30000 });
  // Sent once: nothing waits any more, and the server has it once.
  expect(await stored()).toEqual(['button']);
});

test('a run waiting when the tab is closed is stored when another tab opens', async ({
  page,
  context
}) => {
  test.setTimeout(240000);
  await openLab(page);
  await stopServerWhenStoring(page);
  await page.locator(SNAPSHOT).click();
  await expect(toasts(page)).toContainText('Run kept in this browser', {
    timeout: 60000
  });

  // Closing asks first (runs wait in this browser); the user closes anyway.
  const prompts: string[] = [];
  page.on('dialog', dialog => {
    prompts.push(dialog.type());
    void dialog.accept();
  });
  const closed = new Promise(resolve => page.once('close', resolve));
  await page.close({ runBeforeUnload: true });
  await closed;
  expect(prompts).toEqual(['beforeunload']);

  await server.start();
  expect(await stored()).toEqual([]);
  const again = await context.newPage();
  await again.goto(`${server.url}/lab?token=${server.token}`);
  await expect
    .poll(stored, { timeout: 120000, intervals: [500] })
    .toEqual(['button']);
  // (after the layout is restored, which would otherwise show the file browser again)
  await again.evaluate(async () => {
    await window.jupyterapp.restored;
    await window.jupyterapp.commands.execute('deardiary:open-history');
  });
  await expect(
    again.getByRole('listbox', { name: 'Recorded runs' }).getByRole('option')
  ).toHaveCount(1);
  await expect(again.getByText(/runs? waiting to be stored/)).toBeHidden();
  expect(await stored()).toEqual(['button']);
});
