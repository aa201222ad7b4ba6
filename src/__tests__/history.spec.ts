/**
 * The history sidebar as createHistoryPanel assembles it (the real HistoryPanel, run
 * list and details over a real sql.js store), with JupyterLab's ES-module packages
 * stood in for at their seams: the clipboard, notifications, the notebook tracker.
 *
 * - "Copy Julia snippet": the text that reaches the clipboard, run as it is under the
 *   test Julia, writes files byte-identical to the run's stored blobs.
 * - The stale-manifest badge shows on the run whose manifest lacks a dependency.
 */
import * as fs from 'fs';
import * as path from 'path';
import { trans } from './helpers/trans';
import { Signal } from '@lumino/signaling';
import { snippetPlan } from '../restore/snippet';
import { IRunStore } from '../tokens';
import { createHistoryPanel } from '../widgets/actions';
import { runJulia, tree } from './helpers/julia';
import { FakeStoreAPI, makeRun, makeStore } from './helpers/sqljs';

jest.mock('@jupyterlab/apputils', () => ({
  Clipboard: { copyToSystem: jest.fn() },
  Notification: {
    success: jest.fn(),
    info: jest.fn(),
    emit: jest.fn(),
    update: jest.fn()
  },
  Dialog: {},
  MainAreaWidget: class {},
  showDialog: jest.fn(),
  showErrorMessage: jest.fn()
}));
jest.mock('@jupyterlab/notebook', () => {
  const { Signal } = jest.requireActual('@lumino/signaling');
  return { NotebookActions: { executed: new Signal({}) } };
});
jest.mock('@jupyterlab/ui-components', () => {
  const { Panel } = jest.requireActual('@lumino/widgets');
  return { SidePanel: class extends Panel {} };
});

// After jest.mock: the mocked modules.
import {
  Clipboard,
  Notification,
  showErrorMessage
} from '@jupyterlab/apputils';

const FIXTURES = path.join(__dirname, 'fixtures');

function sidebar(store: IRunStore) {
  const tracker = { currentWidget: null, currentChanged: new Signal({}) };
  return createHistoryPanel({
    app: { shell: { add: jest.fn() } } as any,
    store,
    bridges: { get: jest.fn() } as any,
    tracker: tracker as any,
    trans,
    icon: {} as any
  });
}

/** Wait for a condition the sidebar reaches on its own (no fixed sleep). */
async function until<T>(what: string, get: () => T | null | undefined) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const value = get();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}

beforeEach(() => jest.clearAllMocks());

describe('Copy Julia snippet, as the sidebar copies it', () => {
  it('copies code that writes the exact files of the run under the test Julia', async () => {
    // Bytes a careless copy would change: CRLF, non-ASCII, "$", quotes, no final newline.
    const project =
      fs.readFileSync(path.join(FIXTURES, 'stdlib-project', 'Project.toml')) +
      '# ünï©ødé ☃ "$(x)" \\ \r\n# last line';
    const manifest =
      fs.readFileSync(path.join(FIXTURES, 'stdlib-project', 'Manifest.toml')) +
      '\r\n# "$(run(`touch MARKER`))"\r\n';
    const store = makeStore(new FakeStoreAPI());
    await store.addRun(makeRun({ note: 'other run' }));
    const { run: added } = await store.addRun(makeRun({ project, manifest }));
    const panel = sidebar(store);
    await panel.refresh();
    panel.list.select(added.id);
    const copy = await until('the details of the run', () =>
      [...panel.details.node.querySelectorAll('button')].find(
        b =>
          b.textContent === 'Copy Julia snippet' &&
          panel.details.run?.id === added.id
      )
    );
    copy.click();
    const copyToSystem = Clipboard.copyToSystem as jest.Mock;
    await until('the clipboard', () => copyToSystem.mock.calls.length > 0);
    expect(showErrorMessage).not.toHaveBeenCalled();
    expect(copyToSystem).toHaveBeenCalledTimes(1);
    expect(Notification.success).toHaveBeenCalledWith(
      `Julia code that restores run #${added.number} was copied`,
      { autoClose: 3000 }
    );
    const copied = copyToSystem.mock.calls[0][0] as string;

    const julia = runJulia(
      copied + '\nprintln("ACTIVE=", Base.active_project())\n'
    );
    expect(julia.error).toBeUndefined();
    expect(julia.stderr).not.toMatch(/ERROR/);
    expect(julia.status).toBe(0);
    const folder = `iteration_${added.id}`;
    const target = path.join(julia.work, folder);
    expect(julia.stdout).toContain(
      `ACTIVE=${path.join(fs.realpathSync(target), 'Project.toml')}`
    );

    const run = await store.getRun(added.id);
    const names = snippetPlan(run).files.map(f => f.name);
    expect(names.sort()).toEqual(['Manifest.toml', 'Project.toml']);
    expect(tree(julia.work)).toEqual(
      [folder, ...names.map(n => `${folder}/${n}`)].sort()
    );
    for (const file of run.files) {
      const blob = await store.getBlob(file.sha256);
      expect(blob).not.toBeNull();
      const written = fs.readFileSync(path.join(target, file.name));
      expect([
        file.name,
        Buffer.from(written).equals(Buffer.from(blob!))
      ]).toEqual([file.name, true]);
    }
    // The blobs compared are the ones a careless copy would change.
    const blobs = await Promise.all(
      run.files.map(f => store.getBlob(f.sha256))
    );
    const texts = blobs.map(b => Buffer.from(b!).toString('utf8')).join('');
    expect(texts).toContain('ünï©ødé ☃ "$(x)" \\ \r\n# last line');
    expect(texts).toContain('\r\n# "$(run(`touch MARKER`))"\r\n');
  });
});

describe('the stale-manifest badge, as the sidebar shows it', () => {
  it('marks the run whose manifest lacks one of its dependencies', async () => {
    const dir = path.join(FIXTURES, 'manifests', 'medium-directoptimalcontrol');
    const project = fs.readFileSync(path.join(dir, 'Project.toml'), 'utf8');
    const manifest = fs.readFileSync(path.join(dir, 'Manifest.toml'), 'utf8');
    const store = makeStore(new FakeStoreAPI());
    const fresh = await store.addRun(makeRun({ project, manifest }));
    const stale = await store.addRun(
      makeRun({
        project: project.replace(
          '[deps]\n',
          '[deps]\nZzz = "0f000000-0000-0000-0000-00000000000f"\n'
        ),
        manifest
      })
    );
    const panel = sidebar(store);
    await panel.refresh();
    const badge = await until('the stale badge', () =>
      panel.list.node.querySelector<HTMLElement>(
        `#jp-DearDiary-run-${stale.run.id} .jp-DearDiary-badge-stale`
      )
    );
    expect(badge.textContent).toBe('stale manifest');
    expect(badge.title).toContain(
      'Zzz is in Project.toml but not in the manifest'
    );
    expect(
      panel.list.node.querySelector(
        `#jp-DearDiary-run-${fresh.run.id} .jp-DearDiary-badge-stale`
      )
    ).toBeNull();
    // The details of that run say it too.
    panel.list.select(stale.run.id);
    const hint = await until('the hint', () =>
      panel.details.node.querySelector('.jp-DearDiary-hint')
    );
    expect(hint.textContent).toContain(
      'The manifest does not match Project.toml: Zzz is in Project.toml but not in the manifest.'
    );
  });
});
