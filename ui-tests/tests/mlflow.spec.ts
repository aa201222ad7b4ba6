/**
 * MLflow (issue 17) in a real JupyterLab: the sidebar's push button sends the selected
 * run to a real `mlflow server` (started here: SQLite backend store, artifacts served by
 * it); one Notification shows the job's progress, then its result; the run, deleted
 * here, is imported back by its MLflow run id (a Restore action offered); with the MLflow
 * server gone, the Notification says why nothing was pushed.
 *
 * The spec runs its own JupyterLab (tests/server.ts) whose environment names the MLflow
 * server (MLFLOW_TRACKING_URI, the default of c.DearDiary.mlflow_tracking_uri).
 */
import { expect, Page, test } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeRun } from '../../src/__tests__/helpers/sqljs';
import { freePort, OwnServer } from './server';
import { addRuns, readRuns } from './store';

const NOTEBOOK = 'mlflow/pushed.ipynb';
let mlflow: ChildProcess;
let mlflowUrl: string;
let folder: string;
let server: OwnServer;

test.describe.configure({ timeout: 240000 });

test.beforeAll(async () => {
  test.setTimeout(240000);
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'dd-mlflow-'));
  const port = freePort();
  mlflowUrl = `http://127.0.0.1:${port}`;
  mlflow = spawn(
    'mlflow',
    [
      'server',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
      '--backend-store-uri',
      `sqlite:///${folder}/mlflow.db`,
      '--serve-artifacts',
      '--artifacts-destination',
      `${folder}/artifacts`
    ],
    {
      env: { ...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' },
      stdio: 'ignore',
      detached: true
    }
  );
  server = new OwnServer({
    env: {
      MLFLOW_TRACKING_URI: mlflowUrl,
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0'
    }
  });
  await server.start();
  const deadline = Date.now() + 180000;
  for (;;) {
    try {
      if ((await fetch(`${mlflowUrl}/health`)).ok) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error('mlflow server did not start in 180 s');
    }
    await new Promise(resolve => setTimeout(resolve, 300));
  }
});

test.afterAll(async () => {
  await server?.dispose();
  if (mlflow?.pid && mlflow.exitCode === null && mlflow.signalCode === null) {
    process.kill(-mlflow.pid, 'SIGKILL');
  }
  fs.rmSync(folder, { recursive: true, force: true });
});

async function openSidebar(page: Page): Promise<void> {
  await server.openLab(page);
  await page.evaluate(async () => {
    await window.jupyterapp.restored;
    await window.jupyterapp.commands.execute('deardiary:open-history');
  });
}

const toast = (page: Page, text: string | RegExp) =>
  page.locator('.Toastify__toast').filter({ hasText: text });

test('pushing the selected run shows its progress, then the result or the refusal', async ({
  page
}) => {
  const first = makeRun({ notebook: NOTEBOOK, note: 'first' });
  const second = makeRun({
    notebook: NOTEBOOK,
    note: 'second',
    created_at: '2000-01-01T00:00:00.000Z'
  });
  await addRuns([first, second], server);
  const runs = await readRuns(NOTEBOOK, server);
  const newest = runs.find(r => r.snapshot_id === first.snapshot_id)!;
  const oldest = runs.find(r => r.snapshot_id === second.snapshot_id)!;
  await openSidebar(page);

  // The job's progress is asked for slowly, so that the in-progress state is seen.
  await page.route('**/deardiary/mlflow/jobs/**', async route => {
    await new Promise(resolve => setTimeout(resolve, 1500));
    await route.continue();
  });
  const list = page.getByRole('listbox', { name: 'Recorded runs' });
  await list.locator(`#jp-DearDiary-run-${newest.id}`).click();
  const push = page.locator(
    '.jp-SidePanel-toolbar [data-command="deardiary:mlflow-push"]'
  );
  await expect(push).toBeEnabled();
  await push.click();
  await expect(toast(page, 'Pushing runs to MLflow: 0 of 1')).toBeVisible();
  const done = toast(
    page,
    'Pushed to MLflow: 1 new, 0 completed, 0 already there'
  );
  await expect(done).toBeVisible({ timeout: 60000 });
  await expect(toast(page, 'Pushing runs to MLflow')).toHaveCount(0); // the same toast

  // MLflow holds the run, found by its snapshot id tag
  const search = await fetch(`${mlflowUrl}/api/2.0/mlflow/runs/search`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      experiment_ids: ['1'],
      filter: `tags.\`deardiary.snapshot_id\` = '${newest.snapshot_id}'`
    })
  });
  const found = (await search.json()) as {
    runs: { info: { status: string; run_id: string } }[];
  };
  expect(found.runs.map(r => r.info.status)).toEqual(['FINISHED']);

  // Deleted here, imported back from MLflow by its run id: the same run, a Restore action.
  const deleted = await fetch(
    `${server.url}/deardiary/runs/${newest.id}?token=${server.token}`,
    { method: 'DELETE' }
  );
  expect(deleted.status).toBe(200);
  await page.evaluate(
    ids =>
      window.jupyterapp.commands.execute('deardiary:mlflow-pull', {
        mlflowRunIds: ids
      }),
    [found.runs[0].info.run_id]
  );
  const imported = toast(
    page,
    'Imported from MLflow: 1 added, 0 already in the store'
  );
  await expect(imported).toBeVisible({ timeout: 60000 });
  await expect(imported.getByRole('button', { name: 'Restore' })).toBeVisible();
  const back = await readRuns(NOTEBOOK, server);
  expect(back.map(r => [r.snapshot_id, r.note]).sort()).toEqual(
    [
      [first.snapshot_id, 'first'],
      [second.snapshot_id, 'second']
    ].sort()
  );

  // The MLflow server gone: the Notification says why, the store keeps its runs.
  process.kill(-mlflow.pid!, 'SIGKILL');
  await new Promise(resolve => mlflow.once('exit', resolve));
  await list.locator(`#jp-DearDiary-run-${oldest.id}`).click();
  await push.click();
  await expect(
    toast(
      page,
      /Not pushed to MLflow: The MLflow server at .* cannot be reached/
    )
  ).toBeVisible({ timeout: 60000 });
  expect((await readRuns(NOTEBOOK, server)).map(r => r.snapshot_id)).toEqual(
    back.map(r => r.snapshot_id)
  );
});
