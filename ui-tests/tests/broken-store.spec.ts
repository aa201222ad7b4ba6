/**
 * A store file that is not SQLite, in a real JupyterLab with the TEST-ONLY Julia kernel:
 * the server answers 409 and names it, DearDiary changes nothing until asked, then moves
 * it aside byte for byte (`deardiary.sqlite.broken-<time>`, POST store/aside) and
 * records into a new store.
 *
 * On a server of its own (tests/server.ts, no token: Galata's page fixtures need that):
 * the store of the shared Galata server is open in the server (WAL), and replacing it
 * under a running server is nothing to do to a store other specs use.
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  autoCapture,
  juliaNotebook,
  notifications,
  serverRuns,
  SNAPSHOT
} from './lab';
import { freePort, OwnServer } from './server';
import { readRuns, writeProject } from './store';

const PORT = freePort(); // chosen where the file is loaded: the baseURL below needs it
const server = new OwnServer({
  token: '',
  port: PORT,
  root: path.join(os.tmpdir(), `dd-broken-store-${PORT}`)
});

test.use({ autoGoto: false, baseURL: server.url, ...autoCapture('off') });

test.beforeAll(async () => {
  fs.mkdirSync(server.root, { recursive: true });
  await server.start();
});

test.afterAll(async () => {
  await server.dispose();
});

const FOLDER = path.join(server.root, '.deardiary');
const STORE = path.join(FOLDER, 'deardiary.sqlite');
const ASIDE = /^deardiary\.sqlite\.broken-\d{8}T\d{6}Z(-\d+)?$/;

/** Replace the store file as another program would (atomically). */
function replaceStore(bytes: Buffer): void {
  fs.mkdirSync(FOLDER, { recursive: true });
  fs.writeFileSync(`${STORE}.test-new`, bytes);
  fs.renameSync(`${STORE}.test-new`, STORE);
}

const copiesAside = () =>
  fs.existsSync(FOLDER)
    ? fs
        .readdirSync(FOLDER)
        .filter(name => name.startsWith('deardiary.sqlite.broken-'))
    : [];

test('a store that is not SQLite: named, left alone, then kept aside byte for byte and replaced by a working one', async ({
  page,
  tmpPath
}) => {
  // Not SQLite: text, then every byte value (a copy that is not byte for byte shows).
  const garbage = Buffer.concat([
    Buffer.from(`not a database, written by ${tmpPath}\n`),
    Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37 + 11) % 256))
  ]);
  replaceStore(garbage);
  await page.goto();
  writeProject(tmpPath, 'name = "AfterBroken"\n', server.root);
  const notebook = `${tmpPath}/broken.ipynb`;
  await juliaNotebook(page, notebook, ['x = 1']);

  // The sidebar needs the store: the dialog names the file.
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('deardiary:open-history');
  });
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('The DearDiary store cannot be opened', {
    timeout: 30000
  });
  await expect(dialog).toContainText('.deardiary/deardiary.sqlite');
  await expect(dialog).toContainText('.broken-<time>');
  // Left alone: nothing is written.
  await dialog.getByRole('button', { name: 'Leave it' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.locator('.jp-DearDiary-status')).toContainText(
    'Cannot read the runs'
  );
  expect(fs.readFileSync(STORE).equals(garbage)).toBe(true);
  expect(copiesAside()).toEqual([]);
  // What the server says of it (docs/store.md): 409, never a new store over it.
  const answer = await page.request.get('/deardiary/runs');
  expect(answer.status()).toBe(409);
  expect((await answer.json()).error).toBe('not_sqlite');

  // A snapshot needs the store too: asked again, and this time accepted.
  await page.locator(SNAPSHOT).click();
  await expect(dialog).toContainText('The DearDiary store cannot be opened', {
    timeout: 60000
  });
  await dialog
    .getByRole('button', { name: 'Keep a copy and start a new store' })
    .click();
  await expect
    .poll(() => notifications(page), { timeout: 60000 })
    .toContain('Run #1 saved');

  // The copy: a new file beside the store, the garbage byte for byte.
  const added = copiesAside();
  expect(added).toHaveLength(1);
  expect(added[0]).toMatch(ASIDE);
  expect(fs.readFileSync(path.join(FOLDER, added[0])).equals(garbage)).toBe(
    true
  );
  // The new store is SQLite and holds the run, for the server and in the sidebar.
  expect(fs.readFileSync(STORE).subarray(0, 16).toString()).toBe(
    'SQLite format 3\0'
  );
  expect((await readRuns(notebook, server)).map(r => r.trigger)).toEqual([
    'button'
  ]);
  expect((await serverRuns(page, notebook)).map(r => r.number)).toEqual([1]);
  await page
    .getByRole('searchbox', { name: 'Filter runs' })
    .fill(`nb:${notebook}`);
  await expect(
    page.getByRole('listbox', { name: 'Recorded runs' }).getByRole('option')
  ).toHaveCount(1);
});
