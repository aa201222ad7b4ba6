/**
 * The dialogs around a workspace restore (workspace.ts): existing files are looked up
 * through the contents API and replaced after one confirmation; a failure is shown like
 * any restore failure.
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { IRestoreResult } from '../server/api';
import { IRunDetail } from '../store/types';
import type { IRestoreDeps } from './flow';
import {
  IWorkspaceLayout,
  listFolder,
  workspaceRequests,
  writeWorkspace
} from './workspace';

/** Restore a workspace member with its layout; null when nothing was kept or written. */
export async function restoreWorkspace(
  deps: IRestoreDeps,
  run: IRunDetail,
  layout: IWorkspaceLayout,
  target: string
): Promise<IRestoreResult | null> {
  const { trans } = deps;
  const contents = deps.app.serviceManager.contents;
  try {
    const requests = await workspaceRequests(run, layout, target, sha =>
      deps.store.getBlob(sha)
    );
    return await writeWorkspace({
      requests,
      layout,
      restore: request => deps.server.api.restore(request),
      list: path => listFolder(contents, path),
      confirm: existing => confirmReplace(trans, target, existing, run.number)
    });
  } catch (error) {
    await showErrorMessage(
      trans.__('Run #%1 was not restored', run.number),
      error as Error
    );
    return null;
  }
}

/** Ask before existing files in `target` are replaced by run #`run`'s bytes. */
export async function confirmReplace(
  trans: TranslationBundle,
  target: string,
  existing: string[],
  run: number
): Promise<boolean> {
  const answer = await showDialog({
    title: trans.__('Replace existing files?'),
    body: trans.__(
      'These files already exist in %1: %2. Nothing was written yet. Replace them with the bytes of run #%3?',
      target || '/',
      existing.join(', '),
      run
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Keep them') }),
      Dialog.warnButton({ label: trans.__('Replace') })
    ],
    defaultButton: 0
  });
  return answer.button.accept;
}
