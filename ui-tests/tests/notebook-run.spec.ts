/**
 * Issue 16, the notebook knows its run, in a real JupyterLab with the TEST-ONLY Julia
 * kernel: a snapshot writes metadata.deardiary into the notebook's model, a save carries
 * it, a reload reads it back and the line below the toolbar names the run; the sidebar's drift
 * compares the kernel with the run the metadata names (not the last one), and by hashes
 * with a run not in this store; a run records the editor's content with its unsaved
 * edits, keeps the saved file too, and a restore can write either and says which.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';
import {
  autoCapture,
  juliaNotebook,
  notifications,
  open,
  SNAPSHOT
} from './lab';
import { readRuns, ROOT, writeProject } from './store';

test.use({ autoGoto: true, ...autoCapture('off') });

const ITEM = '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-DearDiary-notebookRun';

/** Click the snapshot button and wait for "Run #n saved". */
async function snapshot(page: IJupyterLabPageFixture, n: number) {
  await page.locator(SNAPSHOT).click();
  await expect
    .poll(() => notifications(page), { timeout: 60000 })
    .toContain(`Run #${n} saved`);
}

/** metadata.deardiary of the current notebook's model. */
const metadataOf = (page: IJupyterLabPageFixture) =>
  page.evaluate(() =>
    (window.jupyterapp.shell.currentWidget as any).model.getMetadata(
      'deardiary'
    )
  );

const setMetadata = (page: IJupyterLabPageFixture, value: unknown) =>
  page.evaluate(value => {
    (window.jupyterapp.shell.currentWidget as any).model.setMetadata(
      'deardiary',
      value
    );
  }, value);

/** Whether the current notebook has unsaved changes in JupyterLab's sense. */
const dirty = (page: IJupyterLabPageFixture) =>
  page.evaluate(
    () => (window.jupyterapp.shell.currentWidget as any).model.dirty as boolean
  );

async function runDetail(page: IJupyterLabPageFixture, id: number) {
  const response = await page.request.get(`/deardiary/runs/${id}`);
  expect(response.status()).toBe(200);
  return response.json();
}

async function blob(
  page: IJupyterLabPageFixture,
  sha: string
): Promise<Buffer> {
  const response = await page.request.get(`/deardiary/blobs/${sha}`);
  expect(response.status()).toBe(200);
  return Buffer.from(await response.body());
}

test('a snapshot writes the run into the notebook; saved, reloaded, the line below the toolbar names it', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(180000);
  writeProject(tmpPath, 'name = "Linked"\n');
  const notebook = `${tmpPath}/linked.ipynb`;
  await juliaNotebook(page, notebook, ['x = 1']);
  await expect(page.locator(ITEM)).toBeHidden(); // no run yet
  await snapshot(page, 1);
  const [run] = await readRuns(notebook);
  const detail = await runDetail(page, run.id);

  const meta = await metadataOf(page);
  const manifest = detail.files.find((f: any) => f.role === 'manifest');
  const project = detail.files.find((f: any) => f.role === 'project');
  expect(meta).toEqual({
    format: 1,
    run_id: run.id,
    run_number: 1,
    snapshot_id: run.snapshot_id,
    created_at: detail.created_at,
    julia_version: '1.5.3',
    project: { name: 'Project.toml', sha256: project.sha256 },
    manifest: { name: 'Manifest.toml', sha256: manifest.sha256 }
  });
  expect(JSON.stringify(meta)).not.toContain(ROOT); // no paths
  // The write is in the model only: the file does not have it until a save.
  expect(
    JSON.parse(fs.readFileSync(path.join(ROOT, notebook), 'utf8')).metadata
      .deardiary
  ).toBeUndefined();
  // What the run recorded is the notebook before the write.
  expect((await blob(page, detail.notebook.sha256)).toString()).not.toContain(
    '"deardiary"'
  );
  const text = `outputs from run #1 · Julia 1.5.3 · manifest ${manifest.sha256.slice(0, 4)}…`;
  await expect(page.locator(ITEM)).toHaveText(text);

  await page.evaluate(() =>
    window.jupyterapp.commands.execute('docmanager:save')
  );
  await expect.poll(() => dirty(page)).toBe(false);
  expect(
    JSON.parse(fs.readFileSync(path.join(ROOT, notebook), 'utf8')).metadata
      .deardiary
  ).toEqual(meta);

  await page.reload({ waitForIsReady: false });
  await page.waitForFunction(() => !!window.jupyterapp, undefined, {
    timeout: 60000
  });
  await page.evaluate(() => window.jupyterapp.restored);
  await open(page, notebook);
  expect(await metadataOf(page)).toEqual(meta);
  const item = page.locator(ITEM);
  await expect(item).toHaveText(text);
  // Read back, and not an edit: the notebook is not dirty after opening it.
  expect(await dirty(page)).toBe(false);
  await item.focus();
  await page.keyboard.press('Enter'); // keyboard reaches it
  const details = page.locator('.jp-DearDiary-details');
  await expect(details).toContainText('Run #1');
  await expect(details).toContainText('linked.ipynb');
});

test('drift compares the kernel with the run the notebook names, by hashes when not in this store', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(240000);
  writeProject(tmpPath, 'name = "First"\n');
  const notebook = `${tmpPath}/drift.ipynb`;
  await juliaNotebook(page, notebook, ['y = 2']);
  await snapshot(page, 1);
  const older = await metadataOf(page);
  // The project changes on disk: run 2 records it; the kernel now matches run 2.
  writeProject(tmpPath, 'name = "Second"\n');
  await snapshot(page, 2);
  const newer = await metadataOf(page);
  expect(newer.snapshot_id).not.toBe(older.snapshot_id);
  expect(newer.project.sha256).not.toBe(older.project.sha256);

  await page.evaluate(() =>
    window.jupyterapp.commands.execute('deardiary:open-history')
  );
  const driftLine = page.locator('.jp-DearDiary-drift');
  /** Run the cell: drift is looked at again after an execution. */
  const execute = () =>
    page.evaluate(() =>
      window.jupyterapp.commands.execute('notebook:run-cell')
    );
  await page.evaluate(() =>
    (window.jupyterapp.shell.currentWidget as any).content.activate()
  );
  await execute();
  await expect(driftLine).toHaveText(
    'The kernel still matches run #2, which made these outputs.',
    { timeout: 30000 }
  );

  // The notebook carries the older run: the kernel is compared with that one.
  await setMetadata(page, older);
  await expect(page.locator(ITEM)).toContainText('outputs from run #1');
  await execute();
  await expect(driftLine).toHaveText(
    'The kernel changed since run #1, which made these outputs: Project.toml changed',
    { timeout: 30000 }
  );

  // A copy from another machine: its run is not here, its hashes are the kernel's.
  const copied = {
    ...newer,
    snapshot_id: 'recorded-on-another-machine',
    run_id: 9999
  };
  await setMetadata(page, copied);
  await expect(page.locator(ITEM)).toHaveText(
    `outputs from a run not in this store · manifest ${newer.manifest.sha256.slice(0, 4)}…`
  );
  await execute();
  await expect(driftLine).toHaveText(
    'The kernel matches the environment of these outputs (a run not in this store, compared by hashes).',
    { timeout: 30000 }
  );
  await setMetadata(page, { ...copied, project: older.project });
  await execute();
  await expect(driftLine).toHaveText(
    'The kernel differs from the environment of these outputs (a run not in this store, compared by hashes): Project.toml changed',
    { timeout: 30000 }
  );
});

test("a run records the editor's content with unsaved edits, keeps the saved file, and restores either", async ({
  page,
  tmpPath
}) => {
  test.setTimeout(240000);
  writeProject(tmpPath, 'name = "Edited"\n');
  const notebook = `${tmpPath}/edited.ipynb`;
  await juliaNotebook(page, notebook, ['saved_cell = 1']);
  const savedBytes = fs.readFileSync(path.join(ROOT, notebook));
  await page.evaluate(() => {
    const model = (window.jupyterapp.shell.currentWidget as any).model;
    model.sharedModel.insertCell(1, {
      cell_type: 'code',
      source: 'unsaved_cell = 42'
    });
  });
  await snapshot(page, 1);
  const [run] = await readRuns(notebook);
  const detail = await runDetail(page, run.id);
  expect(detail.notebook_unsaved).toBe(true);
  expect(detail.notebook.origin).toBe('editor');
  const editor = (await blob(page, detail.notebook.sha256)).toString();
  expect(editor).toContain('unsaved_cell = 42');
  expect(editor).toContain('saved_cell = 1');
  expect(detail.notebook.saved.stored).toBe(true);
  const saved = await blob(page, detail.notebook.saved.sha256);
  expect(saved.equals(savedBytes)).toBe(true);
  expect(saved.toString()).not.toContain('unsaved_cell');

  // Restore, choosing the saved file; the result says which notebook was written.
  await page.evaluate(id => {
    void window.jupyterapp.commands.execute('deardiary:restore', { id });
  }, run.id);
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('[data-code="notebook"]')).toContainText(
    'as it was in the editor when the run was recorded'
  );
  const choice = dialog.locator('input.jp-DearDiary-savedNotebook');
  await expect(choice).not.toBeChecked();
  await choice.check();
  await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(page.locator('.jp-Dialog')).toContainText(
    'Notebook written: the saved file'
  );
  const written = fs.readFileSync(
    path.join(ROOT, tmpPath, `iteration_${run.id}`, 'edited.ipynb')
  );
  expect(written.equals(savedBytes)).toBe(true);
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Close' })
    .click();

  // The default writes the editor's content (what the outputs came from).
  const copy = `${tmpPath}/editor-copy`;
  await page.evaluate(
    ({ id, copy }) => {
      void window.jupyterapp.commands.execute('deardiary:restore', {
        id,
        target: copy
      });
    },
    { id: run.id, copy }
  );
  await expect(
    page.locator('.jp-Dialog input.jp-DearDiary-savedNotebook')
  ).not.toBeChecked();
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Restore', exact: true })
    .click();
  await expect(page.locator('.jp-Dialog')).toContainText(
    'Notebook written: the notebook as it was in the editor'
  );
  expect(
    fs.readFileSync(path.join(ROOT, copy, 'edited.ipynb')).toString()
  ).toBe(editor);
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Close' })
    .click();
});
