/**
 * Restore a run (pre-flight → write → RestoreResult), reopen the notebook in a new
 * kernel and confirm its active project, install its packages, and restore its code as
 * a git worktree. Loaded on first use.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ISessionContext,
  MainAreaWidget,
  Notification,
  SessionContext,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { FileDialog } from '@jupyterlab/filebrowser';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { runHints } from '../manifest/hints';
import {
  ENVIRONMENTS_FOLDER,
  IOutsideEnvironment,
  outsideEnvironmentsOf,
  userPackages
} from '../manifest/loaded';
import { KernelBridge } from '../kernel/bridge';
import { pathToString } from '../kernel/protocol';
import { ServerError } from '../server/request';
import { IDearDiaryServer, IKernelBridges, IRunStore } from '../tokens';
import { IRestoreRequest, IRestoreResult } from '../server/api';
import { IRunDetail } from '../store/types';
import { carriable, environmentRequest } from './carry';
import { activateCode, execute, INSTANTIATE_CODE } from './execute';
import { bestKernelspec, matchKernelspecs, minorOf } from './kernelspec';
import {
  defaultTarget,
  folderOf,
  preflight,
  restoreRequest,
  runName
} from './plan';
import { workspaceLayout } from './workspace';
import {
  NotebookChoice,
  NotebookChoiceBody,
  withNotebook,
  writtenLine,
  writtenNotebook
} from './notebook-choice';
import { confirmReplace, restoreWorkspace } from './workspace-flow';
import {
  InstantiateLog,
  IPreflightChoice,
  resultBody,
  stripAnsi,
  worktreeBody
} from './views';
import '../../style/views.css';

export interface IRestoreDeps {
  app: JupyterFrontEnd;
  store: IRunStore;
  server: IDearDiaryServer;
  bridges: IKernelBridges;
  docManager: IDocumentManager;
  translator: ITranslator;
  trans: TranslationBundle;
  /** The "instantiate after reopening" setting. */
  instantiateByDefault: () => Promise<boolean>;
}

/** What a restore ended with (the command's result, for scripts and tests). */
export interface IRestoreOutcome {
  result: IRestoreResult | null;
  panel: NotebookPanel | null;
}

const BRIDGE_TIMEOUT = 60000;

/** Dialog button actions the flow branches on (never on the translated labels). */
const PICK_FOLDER = 'deardiary-pick-folder';
const RESTORE_CODE = 'deardiary-restore-code';

/** Pre-flight, write, show the result, and reopen if asked. */
export async function restoreRun(
  deps: IRestoreDeps,
  id: number,
  args: { target?: string } = {}
): Promise<IRestoreOutcome> {
  const { app, store, trans } = deps;
  const none = { result: null, panel: null };
  const run = await store.getRun(id);
  const hints = await runHints(store, run);
  const specs = app.serviceManager.kernelspecs;
  await specs.ready;
  const matches = matchKernelspecs(
    Object.values(specs.specs?.kernelspecs ?? {}).filter(s => s !== undefined),
    run.julia_version,
    run.kernel.spec ?? null
  );
  const outside = await outsideEnvironmentsOf(run.capture, sha =>
    store.getText(sha)
  );
  // Carried along on request: environments the notebook's own packages came from.
  const carry = carriable(outside.filter(e => userPackages(e).length > 0));
  const findings = (kernel: (typeof matches)[number] | null) =>
    preflight(trans, {
      run,
      hints,
      kernel,
      julia_kernels: matches.length,
      outside
    });
  // JupyterLab shows one dialog at a time: "Choose folder…" closes the pre-flight,
  // opens the file dialog, then shows the pre-flight again with the choices kept.
  const choose = trans.__('Choose folder…');
  let choice: IPreflightChoice = {
    target: args.target ?? defaultTarget(folderOf(run.notebook_path), run),
    kernel: run.notebook.stored
      ? ((bestKernelspec(matches) ?? matches[0])?.spec.name ?? null)
      : null,
    instantiate: await deps.instantiateByDefault(),
    ...(carry.length ? { carry: true } : {})
  };
  // The editor's content (what the outputs came from) unless the user picks the saved file.
  let notebookChoice: NotebookChoice = 'editor';
  for (;;) {
    const body: NotebookChoiceBody = new NotebookChoiceBody(
      {
        trans,
        findings,
        matches,
        choice,
        canReopen: run.notebook.stored,
        canInstantiate: run.has_manifest,
        carryLabel: carry.length
          ? trans.__(
              'Carry along the environments they were loaded from (into %1)',
              carry.map(e => `${ENVIRONMENTS_FOLDER}/${e.folder}/`).join(', ')
            )
          : undefined
      },
      run,
      notebookChoice
    );
    const answer = await showDialog({
      title: trans.__(
        'Restore %1 of %2',
        runName(trans, run),
        run.notebook_path
      ),
      body,
      buttons: [
        Dialog.cancelButton(),
        Dialog.createButton({
          label: choose,
          actions: [PICK_FOLDER],
          caption: trans.__(
            'Pick a folder in the server root; the run goes into a new iteration folder inside it'
          )
        }),
        Dialog.okButton({ label: trans.__('Restore') })
      ],
      defaultButton: 2,
      focusNodeSelector: 'input.jp-DearDiary-target'
    });
    choice = body.getValue();
    notebookChoice = body.notebook;
    if (!answer.button.actions.includes(PICK_FOLDER)) {
      if (!answer.button.accept) {
        return none;
      }
      break;
    }
    const picked = await FileDialog.getExistingDirectory({
      manager: deps.docManager,
      translator: deps.translator,
      title: trans.__(
        'Restore %1 into a new folder inside…',
        runName(trans, run)
      )
    });
    const folder = picked.button.accept ? picked.value?.[0] : undefined;
    if (folder) {
      choice = { ...choice, target: defaultTarget(folder.path, run) };
    }
  }
  const layout = workspaceLayout(run);
  const chosen = withNotebook(run, notebookChoice);
  let result = layout
    ? await restoreWorkspace(deps, chosen, layout, choice.target)
    : await write(deps, chosen, choice.target);
  if (!result) {
    return none;
  }
  if (choice.carry && carry.length) {
    result = await writeEnvironments(deps, run, result, carry);
  }
  const canOpen = Boolean(result.entrypoint && choice.kernel);
  const buttons = [Dialog.cancelButton({ label: trans.__('Close') })];
  if (run.git_sha) {
    buttons.push(
      Dialog.createButton({
        label: trans.__('Restore code…'),
        actions: [RESTORE_CODE]
      })
    );
  }
  if (canOpen) {
    buttons.push(Dialog.okButton({ label: trans.__('Open in a new kernel') }));
  }
  const next = await showDialog({
    title: trans.__('Run #%1 (iteration %2) restored', run.number, run.id),
    body: withWrittenNotebook(
      resultBody(trans, result),
      result.entrypoint ? writtenNotebook(trans, run, notebookChoice) : null,
      trans
    ),
    buttons
  });
  if (next.button.actions.includes(RESTORE_CODE)) {
    await restoreCode(deps, run, `${result.target}/code`);
    return { result, panel: null };
  }
  if (!next.button.accept || !canOpen) {
    return { result, panel: null };
  }
  const reopened = await reopen(deps, run, result, choice.kernel!);
  if (reopened && choice.instantiate && run.has_manifest) {
    await instantiateIn(deps, reopened);
  }
  return { result, panel: reopened?.panel ?? null };
}

/** The result's body with a line saying which notebook was written (when one was). */
function withWrittenNotebook(
  body: ReturnType<typeof resultBody>,
  written: string | null,
  trans: TranslationBundle
): ReturnType<typeof resultBody> {
  if (written) {
    body.node.append(writtenLine(written, trans));
  }
  return body;
}

/**
 * Write each carried environment's files into `<target>/environments/<name>/` (a POST
 * each); the result lists them with the run's files. One that fails is reported and
 * the others are still written.
 */
async function writeEnvironments(
  deps: IRestoreDeps,
  run: IRunDetail,
  result: IRestoreResult,
  carry: IOutsideEnvironment[]
): Promise<IRestoreResult> {
  const files = [...result.files];
  for (const env of carry) {
    const written = await write(deps, run, result.target, async () => {
      const request = await environmentRequest(env, result.target, sha =>
        deps.store.getBlob(sha)
      );
      if (!request) {
        throw new Error(`${env.path}: no files were recorded`);
      }
      return request;
    });
    for (const f of written?.files ?? []) {
      files.push({
        ...f,
        name: `${ENVIRONMENTS_FOLDER}/${env.folder}/${f.name}`
      });
    }
  }
  return { ...result, files };
}

/** POST restore; existing files are replaced only after the user confirms it. */
async function write(
  deps: IRestoreDeps,
  run: IRunDetail,
  target: string,
  build: () => Promise<IRestoreRequest> = () =>
    restoreRequest(run, target, sha => deps.store.getBlob(sha))
): Promise<IRestoreResult | null> {
  const { trans } = deps;
  const api = deps.server.api;
  try {
    const request = await build();
    try {
      return await api.restore(request);
    } catch (error) {
      if (!(error instanceof ServerError && error.code === 'exists')) {
        throw error;
      }
      const existing = (error.body.existing as string[] | undefined) ?? [];
      if (
        !(await confirmReplace(trans, request.target, existing, run.number))
      ) {
        return null;
      }
      return await api.restore({ ...request, overwrite: true });
    }
  } catch (error) {
    await showErrorMessage(
      trans.__('Run #%1 was not restored', run.number),
      error as Error
    );
    return null;
  }
}

/**
 * The kernel session of a reopened notebook, followed from this page. JupyterLab shows
 * the notebook here (`panel`); Notebook 7 opens it in a new browser tab and disposes the
 * panel `docManager.open()` returned, so the session is started here first, the new tab
 * attaches to it by path, and the project check and Pkg.instantiate() run through it.
 */
export interface IReopened {
  path: string;
  /** The notebook's panel in this page's shell, or null (another browser tab). */
  readonly panel: NotebookPanel | null;
  bridge: KernelBridge;
  kernel: () => Kernel.IKernelConnection;
}

/**
 * Open the restored notebook with `kernel` (a new kernel); confirm through the bridge
 * that its active project is the restored one, activating it when the kernelspec does
 * not; say so when the kernel's Julia differs from the captured one.
 */
export async function reopen(
  deps: IRestoreDeps,
  run: IRunDetail,
  result: IRestoreResult,
  kernel: string
): Promise<IReopened | null> {
  const { docManager, trans } = deps;
  const path = result.target
    ? `${result.target}/${result.entrypoint}`
    : result.entrypoint!;
  const note = Notification.emit(
    trans.__('Starting a kernel for %1…', path),
    'in-progress',
    { autoClose: false }
  );
  try {
    const open = docManager.findWidget(path, 'Notebook') as
      NotebookPanel | undefined;
    if (open) {
      // Already open (restored over): show the restored bytes in a new kernel.
      await open.context.revert();
      await open.sessionContext.changeKernel({ name: kernel });
    }
    // The session first, then the document: its panel (here or in a new tab) finds
    // the session by path and attaches to it.
    await deps.app.serviceManager.sessions.refreshRunning();
    const own = await Private.startSession(deps, path, kernel);
    // In JupyterLab the panel opens in this page: let this page's own connection go
    // first, since a second connection to a kernel in one page gets no comms
    // (KernelManager.connectTo) and the panel's bridge needs them. Notebook 7 opens it
    // in a new tab (another page) and disposes the panel it returns: this page then
    // follows the session itself.
    const inLab = deps.app.name === 'JupyterLab';
    if (inLab) {
      own.dispose();
    }
    if (!open) {
      docManager.open(path, 'Notebook', { name: kernel });
    }
    const shown = () => {
      const widget = docManager.findWidget(path, 'Notebook') as
        NotebookPanel | undefined;
      return widget && !widget.isDisposed ? widget : null;
    };
    const panel = inLab ? shown() : null;
    let session: ISessionContext = own;
    let bridge: KernelBridge;
    if (panel) {
      deps.app.shell.activateById(panel.id);
      await panel.sessionContext.ready;
      session = panel.sessionContext;
      bridge = deps.bridges.get(panel);
    } else {
      const ownBridge = new KernelBridge({ sessionContext: own });
      own.sessionChanged.connect(() => {
        ownBridge.dispose();
        own.dispose();
      });
      bridge = ownBridge;
    }
    const reopened: IReopened = {
      path,
      get panel() {
        return shown();
      },
      bridge,
      kernel: () => kernelOf(session, path)
    };
    let live = await bridge.fingerprint({ timeout: BRIDGE_TIMEOUT });
    const want = result.project_file;
    const activeOf = () =>
      live.project ? pathToString(live.project.path) : '';
    let activated = false;
    if (want && activeOf() !== want) {
      const reply = await execute(
        reopened.kernel(),
        activateCode(result.project_path ?? want)
      );
      if (reply.status === 'error') {
        throw new Error(`Pkg.activate: ${reply.ename}: ${reply.evalue}`);
      }
      activated = true;
      live = await bridge.fingerprint({ timeout: BRIDGE_TIMEOUT });
      if (activeOf() !== want) {
        throw new Error(
          trans.__(
            'The kernel\u2019s active project is %1, not the restored %2.',
            activeOf() || trans.__('none'),
            want
          )
        );
      }
    }
    const sameJulia = live.julia_version === run.julia_version;
    const sameMinor =
      minorOf(live.julia_version) === minorOf(run.julia_version);
    const message = [
      want
        ? activated
          ? trans.__(
              'The kernel did not start in the restored project, so it was activated: %1.',
              want
            )
          : trans.__('The kernel runs the restored project %1.', want)
        : trans.__(
            'No project file was restored: the kernel runs %1.',
            activeOf()
          ),
      sameJulia
        ? trans.__('Julia %1, as captured.', live.julia_version)
        : trans.__(
            'Julia %1, but the run used Julia %2%3.',
            live.julia_version,
            run.julia_version,
            sameMinor ? trans.__(' (same minor version)') : ''
          )
    ].join(' ');
    const actions = run.has_manifest
      ? [
          {
            label: trans.__('Install packages'),
            caption: trans.__('Run Pkg.instantiate() in this kernel'),
            callback: () => void instantiateIn(deps, reopened)
          }
        ]
      : [];
    Notification.update({
      id: note,
      message,
      type: sameMinor ? 'success' : 'warning',
      autoClose: false,
      actions
    });
    return reopened;
  } catch (error) {
    Notification.update({
      id: note,
      message: trans.__(
        'Reopening %1 failed: %2',
        path,
        (error as Error).message
      ),
      type: 'error',
      autoClose: false
    });
    return null;
  }
}

/** Pkg.instantiate() in the kernel of an open notebook panel. */
export function instantiate(
  deps: IRestoreDeps,
  panel: NotebookPanel
): Promise<boolean> {
  return instantiateIn(deps, {
    path: panel.context.path,
    panel,
    bridge: deps.bridges.get(panel),
    kernel: () => kernelOf(panel.sessionContext, panel.context.path)
  });
}

/**
 * Pkg.instantiate() in the notebook's kernel, its output streamed into a log beside
 * the notebook; never resolve or update. Resolves with whether it succeeded.
 */
export async function instantiateIn(
  deps: IRestoreDeps,
  target: IReopened
): Promise<boolean> {
  const { app, trans } = deps;
  const name = target.path;
  const refusal = await instantiateRefusal(deps, target);
  if (refusal) {
    await showErrorMessage(trans.__('Packages not installed'), refusal);
    return false;
  }
  const log = new InstantiateLog();
  const widget = new MainAreaWidget({ content: log });
  widget.id = `jp-DearDiary-instantiate-${Date.now()}`;
  widget.title.label = trans.__('Pkg.instantiate · %1', PathExt.basename(name));
  widget.title.closable = true;
  if (target.panel) {
    app.shell.add(widget, 'main', {
      ref: target.panel.id,
      mode: 'split-bottom'
    });
  } else {
    // The notebook is in another browser tab (Notebook 7): the log shows here.
    app.shell.add(widget, 'down');
    app.shell.activateById(widget.id);
  }
  const note = Notification.emit(
    trans.__('Installing the packages of %1 (Pkg.instantiate)…', name),
    'in-progress',
    { autoClose: false }
  );
  const started = performance.now();
  try {
    const reply = await execute(target.kernel(), INSTANTIATE_CODE, text => {
      log.append(text);
      // The notification shows the latest line Pkg printed ("Installed CSV …").
      const line = stripAnsi(text).trim().split('\n').pop();
      if (line) {
        Notification.update({
          id: note,
          message: trans.__('Installing the packages of %1: %2', name, line),
          type: 'in-progress'
        });
      }
    });
    if (reply.status !== 'ok') {
      throw new Error(
        reply.status === 'error'
          ? `${reply.ename}: ${reply.evalue}`
          : trans.__('the kernel aborted the request')
      );
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    log.append(trans.__('\n✔ Pkg.instantiate() finished in %1 s\n', seconds));
    Notification.update({
      id: note,
      message: trans.__(
        'The packages of %1 are installed (%2 s).',
        name,
        seconds
      ),
      type: 'success',
      autoClose: 5000
    });
    return true;
  } catch (error) {
    log.append(
      trans.__('\n✘ Pkg.instantiate() failed: %1\n', (error as Error).message)
    );
    Notification.update({
      id: note,
      message: trans.__('Installing the packages of %1 failed', name),
      type: 'error',
      autoClose: false,
      actions: [
        {
          label: trans.__('Details'),
          callback: () =>
            void showErrorMessage(
              trans.__('Pkg.instantiate() failed'),
              {
                message:
                  (error as Error).message + '\n\n' + log.node.textContent
              },
              [Dialog.okButton()]
            )
        }
      ]
    });
    return false;
  }
}

/** Why Pkg.instantiate() must not run in this kernel (it would resolve), or null. */
async function instantiateRefusal(
  deps: IRestoreDeps,
  target: IReopened
): Promise<string | null> {
  const { trans } = deps;
  const bridge = target.bridge;
  if (!(await bridge.isJulia())) {
    return trans.__('%1 does not run a Julia kernel.', target.path);
  }
  const live = await bridge.fingerprint({ timeout: BRIDGE_TIMEOUT });
  if (!live.manifest || !live.files.some(f => f.role === 'manifest')) {
    return trans.__(
      'The active project %1 has no manifest: Pkg.instantiate() would resolve new versions, which DearDiary never does. Restore a run that has a Manifest.toml.',
      live.project ? pathToString(live.project.path) : trans.__('(none)')
    );
  }
  return null;
}

/** Check out the run's commit as a git worktree at `target` and apply its patch. */
export async function restoreCode(
  deps: IRestoreDeps,
  run: IRunDetail,
  target: string
): Promise<void> {
  const { trans } = deps;
  const git = run.git.state === 'ok' ? run.git.git : null;
  if (!run.git_sha || !git) {
    await showErrorMessage(
      trans.__('No code to restore'),
      trans.__('Run #%1 has no recorded git commit.', run.number)
    );
    return;
  }
  try {
    const result = await deps.server.api.worktree({
      path: run.notebook_path,
      target,
      sha: run.git_sha,
      patch: git.patch ?? '',
      patch_truncated: Boolean(git.truncated)
    });
    await showDialog({
      title: trans.__('Code of run #%1 restored', run.number),
      body: worktreeBody(trans, result),
      buttons: [Dialog.okButton({ label: trans.__('Close') })]
    });
  } catch (error) {
    await showErrorMessage(
      trans.__('The code of run #%1 was not restored', run.number),
      error as Error
    );
  }
}

function kernelOf(context: ISessionContext, path: string) {
  const kernel = context.session?.kernel;
  if (!kernel) {
    throw new Error(`${path} has no kernel.`);
  }
  return kernel;
}

namespace Private {
  /**
   * A session of `path` with `kernel`, in this page: the running one of that path when
   * there is one (it already has the new kernel), else a new one.
   */
  export async function startSession(
    deps: IRestoreDeps,
    path: string,
    kernel: string
  ): Promise<SessionContext> {
    const { serviceManager } = deps.app;
    const session = new SessionContext({
      sessionManager: serviceManager.sessions,
      specsManager: serviceManager.kernelspecs,
      path,
      name: PathExt.basename(path),
      type: 'notebook',
      kernelPreference: { name: kernel, shouldStart: true, canStart: true },
      translator: deps.translator
    });
    await session.initialize();
    await session.ready;
    if (!session.session?.kernel) {
      session.dispose();
      throw new Error(`${path}: no kernel ${kernel} was started.`);
    }
    return session;
  }
}
