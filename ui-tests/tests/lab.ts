/**
 * Helpers for the Galata tests: notebooks with a given kernel, DearDiary settings,
 * notifications.
 */
import { expect, galata, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import { IStoredRun, listRuns } from './store';

export const JULIA = 'deardiary-test-julia-1.5';
export const SNAPSHOT = '[data-command="deardiary:snapshot"]';

/** A notebook (nbformat 4.5) of code cells whose metadata names its kernel. */
export function notebookJSON(
  kernel: { name: string; display_name: string; language: string },
  sources: string[] = ['']
) {
  return {
    cells: sources.map(source => ({
      cell_type: 'code',
      source,
      metadata: {},
      outputs: [],
      execution_count: null
    })),
    metadata: { kernelspec: kernel },
    nbformat: 4,
    nbformat_minor: 5
  };
}

/** Create a notebook whose metadata names its kernel, open it, wait for the kernel. */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  path: string,
  kernel: { name: string; display_name: string; language: string },
  sources: string[] = ['']
) {
  const notebook = notebookJSON(kernel, sources);
  await page.contents.uploadContent(JSON.stringify(notebook), 'text', path);
  await open(page, path);
}

/** Open a file in JupyterLab (in any page of the test) and wait for its kernel. */
export async function open(page: Page, path: string) {
  await page.evaluate(async path => {
    await window.jupyterapp.started;
    await window.jupyterapp.commands.execute('docmanager:open', { path });
  }, path);
  await kernelIdle(page, path);
}

/**
 * Wait until the kernel of the notebook at `path` is connected to this page and idle: a
 * cell run from then on reaches the kernel. Not the execution indicator's `data-status`:
 * it reads "idle" before the notebook has a session (its initial state), and a cell run
 * then is dropped by JupyterLab (no kernel yet: the cell is cleared, nothing executes).
 * JupyterLab, and Notebook 7 served with `expose_app_in_browser`.
 */
export async function kernelIdle(page: Page, path: string) {
  await page.waitForFunction(
    path => {
      const shell = window.jupyterapp?.shell;
      const panels = shell ? [...shell.widgets('main')] : [];
      const panel = panels.find((w: any) => w.context?.path === path) as any;
      const kernel = panel?.sessionContext?.session?.kernel;
      return (
        kernel?.connectionStatus === 'connected' && kernel.status === 'idle'
      );
    },
    path,
    { timeout: 60000 }
  );
}

export const JULIA_SPEC = {
  name: JULIA,
  display_name: 'Julia 1.5.3 (deardiary test)',
  language: 'julia'
};
export const PYTHON = {
  name: 'python3',
  display_name: 'Python 3',
  language: 'python'
};

export const juliaNotebook = (
  page: IJupyterLabPageFixture,
  path: string,
  sources?: string[]
) => openNotebook(page, path, JULIA_SPEC, sources);

/** The messages of the notifications shown so far. */
export async function notifications(
  page: IJupyterLabPageFixture
): Promise<string[]> {
  return (await page.notifications).map(n => n.message);
}

/** Galata's mocked settings with DearDiary's auto-capture mode. */
export function autoCapture(mode: string) {
  return {
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'jupyterlab-deardiary:snapshot': { autoCapture: mode }
    }
  };
}

/** A run as GET /deardiary/runs lists it (the fields the tests look at). */
export type IServerRun = IStoredRun;

/** The runs of `notebook` as the server lists them (GET /deardiary/runs), newest first. */
export async function serverRuns(
  page: Page,
  notebook: string
): Promise<IServerRun[]> {
  return (await listRuns(page.request)).filter(
    run => run.notebook_path === notebook
  );
}

/** Tick the runs' compare boxes in the open sidebar, then open their comparison. */
export async function compareRuns(
  page: Page,
  runs: { id: number; number: number }[]
): Promise<void> {
  const list = page.getByRole('listbox', { name: 'Recorded runs' });
  for (const run of runs) {
    const box = list
      .locator(`#jp-DearDiary-run-${run.id}`)
      .getByRole('checkbox', { name: `Compare run #${run.number}` });
    await box.click();
    await expect(box).toBeChecked();
  }
  await page
    .getByRole('button', { name: `Compare ${runs.length} runs` })
    .click();
}
