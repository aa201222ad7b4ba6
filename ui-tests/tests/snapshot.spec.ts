/**
 * Snapshots in a real JupyterLab, Debian Chromium and the TEST-ONLY Julia kernel (a real
 * Julia 1.5.3 running the injected code; see ui-tests/test-kernel/README.md).
 *
 * The kernel imitates one IJulia generation per kernelspec; the `juliaKernel` option,
 * set per Playwright project (playwright.config.js), chooses it. Tests tagged
 * @generations run in every generation's project, the others with IJulia 1.24 only.
 */
import { expect, test as base } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import * as path from 'path';
import {
  autoCapture,
  juliaNotebook,
  notifications,
  open,
  openNotebook,
  PYTHON,
  SNAPSHOT
} from './lab';
import { readRuns, writeProject } from './store';

/** What the current notebook's kernel connection sent and received (watchWire). */
interface IWireEvent {
  kind: 'execute_request' | 'execute_reply' | 'request' | 'reply';
  /** An execute_request's msg_id (an execute_reply's parent), or a comm request's id. */
  id: unknown;
  /** A user's cell. */
  code?: string;
  /** A DearDiary comm request: fingerprint, claim, capture, ping. */
  op?: string;
  /** A claim's key. */
  key?: string;
}

/**
 * Record from now on the user's executions and the DearDiary comm's requests and
 * answers of the current notebook's kernel connection, in the order JupyterLab sent
 * and received them (the connection's anyMessage signal).
 */
async function watchWire(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const context = (window.jupyterapp.shell.currentWidget as any)
      .sessionContext;
    await context.ready; // the session (and its kernel connection) exists
    const events: any[] = [];
    (window as any).__deardiaryWire = events;
    const onMessage = (_: unknown, { msg, direction }: any) => {
      const type = msg.header.msg_type;
      const data = msg.content?.data ?? {};
      if (type === 'execute_request' && !msg.content.silent) {
        events.push({
          kind: type,
          id: msg.header.msg_id,
          code: msg.content.code
        });
      } else if (type === 'execute_reply') {
        events.push({ kind: type, id: msg.parent_header.msg_id });
      } else if (type === 'comm_msg' && direction === 'send' && data.op) {
        events.push({
          kind: 'request',
          id: data.id,
          op: data.op,
          key: data.args?.key
        });
      } else if (type === 'comm_msg' && typeof data.json === 'string') {
        // The kernel's frame: {protocol, json} (src/kernel/protocol.ts).
        const reply = JSON.parse(data.json);
        if (reply.type === 'reply') {
          events.push({ kind: 'reply', id: reply.id });
        }
      }
    };
    context.session.kernel.anyMessage.connect(onMessage);
    context.kernelChanged.connect((_: unknown, change: any) =>
      change.newValue?.anyMessage.connect(onMessage)
    );
  });
}

const wire = (page: Page): Promise<IWireEvent[]> =>
  page.evaluate(() => (window as any).__deardiaryWire);

/** Where the execute_reply of the user's cell `code` is (-1: not yet). */
function replyIndex(events: IWireEvent[], code: string): number {
  const request = events.find(
    e => e.kind === 'execute_request' && e.code === code
  );
  return request
    ? events.findIndex(e => e.kind === 'execute_reply' && e.id === request.id)
    : -1;
}

/** After the cell `code` finished, a fingerprint was asked for and all are answered. */
function checkedAfter(events: IWireEvent[], code: string): boolean {
  const reply = replyIndex(events, code);
  if (reply < 0) {
    return false;
  }
  const after = events.slice(reply + 1);
  const asked = after.filter(
    e => e.kind === 'request' && e.op === 'fingerprint'
  );
  return (
    asked.length > 0 &&
    asked.every(q => after.some(e => e.kind === 'reply' && e.id === q.id))
  );
}

const CELL1 = 'y = x * 2';
const CELL2 = 'import Pkg; Pkg.activate("other")';

const test = base.extend<{ juliaKernel: string }>({
  juliaKernel: ['deardiary-test-julia-1.5', { option: true }]
});

test.use({ autoGoto: true });

test.describe('snapshots (automatic capture off)', () => {
  test.use(autoCapture('off'));

  test('the button is there for a Julia notebook and not for a Python one', async ({
    page,
    tmpPath
  }) => {
    await juliaNotebook(page, `${tmpPath}/julia.ipynb`);
    await expect(page.locator(SNAPSHOT)).toBeVisible();

    await openNotebook(page, `${tmpPath}/python.ipynb`, PYTHON);
    await expect(
      page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) ' + SNAPSHOT)
    ).toBeHidden();
    await expect(
      page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar').first()
    ).toBeVisible();
  });

  test('a click stores a run that is still there after a reload', async ({
    page,
    tmpPath
  }) => {
    writeProject(tmpPath, 'name = "Clicked"\r\n');
    await juliaNotebook(page, `${tmpPath}/clicked.ipynb`);
    await page.locator(SNAPSHOT).click();
    await expect
      .poll(() => notifications(page), { timeout: 60000 })
      .toContain('Run #1 saved');

    const runs = await readRuns(`${tmpPath}/clicked.ipynb`);
    expect(runs).toHaveLength(1);
    expect(runs[0].trigger).toBe('button');

    await page.reload({ waitForIsReady: false });
    await page.waitForFunction(() => !!window.jupyterapp, undefined, {
      timeout: 60000
    });
    await page.evaluate(id => {
      void window.jupyterapp.commands.execute('deardiary:show-run', { id });
    }, runs[0].id);
    // The sidebar opens on that run: its details come from the reloaded store.
    const details = page.locator('.jp-DearDiary-details');
    await expect(details).toContainText('Run #1');
    await expect(details).toContainText('Manifest.toml');
    await expect(details).toContainText('1.5.3');
  });

  test('two tabs snapshotting at the same time lose nothing', async ({
    page,
    tmpPath
  }) => {
    writeProject(tmpPath, 'name = "Two"\n');
    await juliaNotebook(page, `${tmpPath}/two.ipynb`);
    // The same notebook open in a second tab (its own kernel connection).
    const second = await page.context().newPage();
    // Its own workspace: JupyterLab would otherwise move it to a new one (a navigation).
    await second.goto(new URL('/lab/workspaces/second-tab', page.url()).href);
    await second.waitForFunction(() => !!window.jupyterapp, undefined, {
      timeout: 60000
    });
    await open(second, `${tmpPath}/two.ipynb`);
    await expect(second.locator(SNAPSHOT)).toBeVisible({ timeout: 60000 });

    await Promise.all([
      page.locator(SNAPSHOT).click(),
      second.locator(SNAPSHOT).click()
    ]);
    await expect
      .poll(async () => (await readRuns(`${tmpPath}/two.ipynb`)).length, {
        timeout: 60000
      })
      .toBe(2);
    const runs = await readRuns(`${tmpPath}/two.ipynb`);
    expect(new Set(runs.map(r => r.snapshot_id)).size).toBe(2);
    expect(runs.map(r => r.number).sort()).toEqual([1, 2]);
    await second.close();
  });
});

test.describe('automatic capture', () => {
  test.use(autoCapture('kernel-start-and-changes'));

  test('automatic capture: one run at the first execution, one more after the environment changed', async ({
    page,
    tmpPath
  }) => {
    writeProject(tmpPath, 'name = "Auto"\n');
    writeProject(`${tmpPath}/other`, 'name = "Other"\n');
    await juliaNotebook(page, `${tmpPath}/auto.ipynb`, [
      'x = 1 + 1',
      CELL1,
      CELL2
    ]);
    const notebook = `${tmpPath}/auto.ipynb`;

    await watchWire(page);

    await page.notebook.runCell(0);
    await expect
      .poll(async () => (await readRuns(notebook)).length, { timeout: 30000 })
      .toBe(1);
    await page.notebook.runCell(1);
    // The automatic capture decided about cell 1: after the cell's execute_reply its
    // debounced check asked the kernel for a fingerprint and every such request has its
    // answer (the decision is taken on that answer; the sidebar is closed, so nothing
    // else asks for fingerprints). An unchanged environment then records nothing.
    await expect
      .poll(async () => checkedAfter(await wire(page), CELL1), {
        timeout: 30000
      })
      .toBe(true);
    expect(await readRuns(notebook)).toHaveLength(1);

    await page.notebook.runCell(2);
    // Cell 2's run (its project is other/), then exactly two runs.
    await expect
      .poll(
        async () =>
          (await readRuns(notebook)).some(r =>
            r.project_path.includes('/other/')
          ),
        { timeout: 30000 }
      )
      .toBe(true);
    const runs = await readRuns(notebook);
    expect(runs).toHaveLength(2);
    const [first, second] = runs;
    expect(first.trigger).toBe('kernel-start');
    expect(second.trigger).toBe('environment-change');
    expect(second.parent_id).toBe(first.id);
    expect(path.basename(second.project_path)).toBe('Project.toml');
    expect(second.project_path).toContain('/other/');
    // On the wire: between cell 1 and cell 2 the kernel was asked for fingerprints only
    // (an unchanged environment is neither claimed nor captured), and one environment
    // was claimed in the whole test: cell 2's.
    const events = await wire(page);
    const cell1 = replyIndex(events, CELL1);
    const cell2 = events.findIndex(
      e => e.kind === 'execute_request' && e.code === CELL2
    );
    expect(cell1).toBeGreaterThan(-1);
    expect(cell2).toBeGreaterThan(cell1);
    expect(
      new Set(
        events
          .slice(cell1, cell2)
          .filter(e => e.kind === 'request')
          .map(e => e.op)
      )
    ).toEqual(new Set(['fingerprint']));
    expect(
      events
        .filter(e => e.op === 'claim' && e.key?.startsWith('environment:'))
        .map(e => events.indexOf(e) > cell2)
    ).toEqual([true]);
  });
});

test.describe('every IJulia generation (automatic capture at kernel start)', () => {
  test.use(autoCapture('kernel-start'));

  test('automatic capture, the button and @snapshot from a cell each store a run @generations', async ({
    page,
    tmpPath,
    juliaKernel
  }) => {
    writeProject(tmpPath, 'name = "Generations"\n');
    const notebook = `${tmpPath}/generations.ipynb`;
    await openNotebook(
      page,
      notebook,
      { name: juliaKernel, display_name: juliaKernel, language: 'julia' },
      ['x = 1 + 1', '@snapshot "from a cell"']
    );
    // The kernel imitates the generation this project names.
    const banner = await page.evaluate(async () => {
      const context = (window.jupyterapp.shell.currentWidget as any)
        .sessionContext;
      await context.ready;
      return (await context.session.kernel.info).banner as string;
    });
    const generation = test.info().project.name.replace('ijulia-', '');
    expect(banner).toContain(`imitating IJulia ${generation}`);

    // (runs of an earlier try of this test, in a server root that was not wiped)
    const before = (await readRuns(notebook)).length;
    const count = async () => (await readRuns(notebook)).length - before;
    // automatic capture: the kernel start, recorded at the first execution
    await page.notebook.runCell(0);
    await expect.poll(count, { timeout: 60000 }).toBe(1);
    // the button
    await page.locator(SNAPSHOT).click();
    await expect.poll(count, { timeout: 60000 }).toBe(2);
    // @snapshot in a cell: sent by the kernel while the cell runs, stored by the page
    await page.notebook.runCell(1);
    await expect.poll(count, { timeout: 60000 }).toBe(3);
    const output = await page.notebook.getCellOutputLocator(1);
    await expect(output!).toContainText('sent to 1 notebook view');

    const runs = (await readRuns(notebook)).slice(before);
    expect(runs.map(r => r.trigger)).toEqual([
      'kernel-start',
      'button',
      'code'
    ]);
    expect(runs[2].note).toBe('from a cell');
    expect(new Set(runs.map(r => r.snapshot_id)).size).toBe(3);
    for (const run of runs) {
      expect(path.basename(run.project_path)).toBe('Project.toml');
    }
  });
});
