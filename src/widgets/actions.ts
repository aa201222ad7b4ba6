/**
 * The history sidebar's content and actions, loaded when the sidebar is first shown
 * (TOML parsing, the diff and the views are not part of JupyterLab's start-up).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  MainAreaWidget,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import type { IEditorServices } from '@jupyterlab/codeeditor';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { drift, driftByHashes, environmentOf } from '../manifest/drift';
import {
  driftBaseline,
  METADATA_KEY,
  parseRunMetadata
} from '../recorder/run-metadata';
import { StaleManifests } from '../manifest/stale';
import { driftText } from '../manifest/words';
import { CommandIDs, IKernelBridges, IRunStore } from '../tokens';
import { IRunDetail, IRunSummary } from '../store/types';
import { CompareView, loadComparison } from './compare';
import { juliaSnippet, snippetPlan } from '../restore/snippet';
import { HistoryPanel } from './panel';
import { showStaleManifests } from './runlist';
import '../../style/views.css';
import { toBase64 } from '../bytes';

export interface IHistoryDeps {
  app: JupyterFrontEnd;
  store: IRunStore;
  bridges: IKernelBridges;
  tracker: INotebookTracker;
  trans: TranslationBundle;
  icon: LabIcon;
  /** For the compare view's notebook diff (nbdime renders outputs and editors). */
  rendermime?: IRenderMimeRegistry | null;
  editorServices?: IEditorServices | null;
}

export function createHistoryPanel(deps: IHistoryDeps): HistoryPanel {
  const { app, store, bridges, tracker, trans, icon: diaryIcon } = deps;
  const panel: HistoryPanel = new HistoryPanel({
    store,
    trans,
    actions: {
      saveNote: async (run, note) => {
        try {
          await store.updateNote(run.id, note);
          Notification.success(trans.__('Note of run #%1 saved', run.number), {
            autoClose: 3000
          });
        } catch (error) {
          await showErrorMessage(
            trans.__('The note was not saved'),
            error as Error
          );
        }
      },
      deleteRun: async run => {
        const answer = await showDialog({
          title: trans.__('Delete run #%1?', run.number),
          body: trans.__(
            'Run #%1 of %2 and the files only it refers to are removed from the store. This cannot be undone.',
            run.number,
            run.notebook_path
          ),
          buttons: [
            Dialog.cancelButton(),
            Dialog.warnButton({ label: trans.__('Delete') })
          ]
        });
        if (answer.button.accept) {
          try {
            await store.deleteRun(run.id);
            Notification.info(trans.__('Run #%1 deleted', run.number), {
              autoClose: 3000
            });
          } catch (error) {
            await showErrorMessage(
              trans.__('The run was not deleted'),
              error as Error
            );
          }
        }
      },
      viewFile: async (run, file) => {
        const text = await store.getText(file.sha256);
        const body = new Widget({ node: document.createElement('pre') });
        body.addClass('jp-DearDiary-fileView');
        body.node.textContent =
          text ?? trans.__('(the bytes of this file are not in the store)');
        body.node.setAttribute('aria-readonly', 'true');
        const widget = new MainAreaWidget({ content: body });
        widget.title.label = trans.__(
          '%1 (run #%2, read-only)',
          file.name,
          run.number
        );
        widget.title.icon = diaryIcon;
        app.shell.add(widget, 'main');
      },
      restore: async run => {
        await app.commands.execute(CommandIDs.restore, { id: run.id });
      },
      copySnippet: async run => {
        Clipboard.copyToSystem(await snippetOf(store, run));
        Notification.success(
          trans.__('Julia code that restores run #%1 was copied', run.number),
          { autoClose: 3000 }
        );
      }
    },
    compare: (a, b) => openComparison(deps, a, b),
    drift: async runs => {
      const current = tracker.currentWidget;
      if (!current || !panel.isVisible) {
        return null;
      }
      const path = app.serviceManager.contents.localPath(current.context.path);
      // The run behind the outputs (metadata.deardiary), else the last run.
      const base = driftBaseline(
        runs,
        path,
        parseRunMetadata(current.model?.getMetadata(METADATA_KEY))
      );
      const bridge = bridges.get(current);
      if (!(await bridge.isJulia())) {
        return null;
      }
      const live = await bridge.fingerprint({ timeout: 5000 });
      if (base.kind === 'hashes') {
        return describeHashDrift(trans, driftByHashes(base.metadata, live));
      }
      const run = base.kind === 'run' ? base.run : null;
      const detail = run ? await store.getRun(run.id) : null;
      return describeDrift(
        trans,
        run,
        drift(detail && environmentOf(detail.capture), live),
        base.kind === 'run' && base.fromMetadata
      );
    }
  });
  tracker.currentChanged.connect(() => void panel.updateDrift());
  // Any execution may change the kernel's environment (Pkg.activate, Pkg.add): look
  // again once the current notebook's cells have finished (debounced, as the recorder).
  let timer: ReturnType<typeof setTimeout> | null = null;
  NotebookActions.executed.connect((_, { notebook }) => {
    if (notebook !== tracker.currentWidget?.content) {
      return;
    }
    if (timer !== null) {
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      timer = null;
      if (!panel.isDisposed) {
        void panel.updateDrift();
      }
    }, 800);
  }, panel);
  // Computed for the rows in view only, in the background, once per run.
  showStaleManifests(panel.list, new StaleManifests({ store }));
  return panel;
}

/** Open the comparison of two runs (older first) in the main area. */
export async function openComparison(
  deps: IHistoryDeps,
  a: IRunSummary,
  b: IRunSummary
): Promise<void> {
  const { app, store, trans, icon } = deps;
  const factory = deps.editorServices?.factoryService;
  const view = new CompareView(
    trans,
    await loadComparison(store, a, b),
    a,
    b,
    deps.rendermime
      ? {
          rendermime: deps.rendermime,
          editorFactory: factory?.newInlineEditor.bind(factory),
          serverSettings: app.serviceManager.serverSettings
        }
      : undefined
  );
  const widget = new MainAreaWidget({ content: view });
  widget.id = `jp-DearDiary-compare-${a.id}-${b.id}`;
  widget.title.label = trans.__('Runs #%1 → #%2', a.number, b.number);
  widget.title.icon = icon;
  app.shell.add(widget, 'main');
  app.shell.activateById(widget.id);
}

function describeDrift(
  trans: TranslationBundle,
  last: IRunSummary | null,
  result: ReturnType<typeof drift>,
  outputsRun = false
): string | null {
  const n = last?.number ?? '?';
  switch (result.state) {
    case 'no-run':
      return trans.__('This notebook has no recorded run yet.');
    case 'same':
      return outputsRun
        ? trans.__(
            'The kernel still matches run #%1, which made these outputs.',
            n
          )
        : trans.__('The kernel still matches run #%1.', n);
    case 'changed':
      return outputsRun
        ? trans.__(
            'The kernel changed since run #%1, which made these outputs: %2',
            n,
            result.changes.map(c => driftText(trans, c)).join('; ')
          )
        : trans.__(
            'The kernel changed since run #%1: %2',
            n,
            result.changes.map(c => driftText(trans, c)).join('; ')
          );
    default:
      return null;
  }
}

/** Drift against a run not in this store, known by the notebook's metadata's hashes. */
function describeHashDrift(
  trans: TranslationBundle,
  result: ReturnType<typeof drift>
): string | null {
  switch (result.state) {
    case 'same':
      return trans.__(
        'The kernel matches the environment of these outputs (a run not in this store, compared by hashes).'
      );
    case 'changed':
      return trans.__(
        'The kernel differs from the environment of these outputs (a run not in this store, compared by hashes): %1',
        result.changes.map(c => driftText(trans, c)).join('; ')
      );
    default:
      return null;
  }
}

/** The snippet with the run's exact bytes. */
async function snippetOf(store: IRunStore, run: IRunDetail): Promise<string> {
  const plan = snippetPlan(run);
  const files = [];
  for (const file of plan.files) {
    const bytes = await store.getBlob(file.sha256);
    if (!bytes) {
      throw new Error(`${file.name}: its bytes are not in the store`);
    }
    files.push({ ...file, base64: toBase64(bytes) });
  }
  return juliaSnippet(`iteration_${run.id}`, files, plan.project);
}
