/**
 * MLflow (issue 17): push runs to the tracking server the Jupyter server names
 * (c.DearDiary.mlflow_tracking_uri) and pull them back, as server jobs whose progress a
 * Notification follows. The JSON mirrors jupyterlab_deardiary/mlflow_routes.py.
 */
import { Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { requestJSON, ServerError } from '../server/request';

/** Command ids of this module. */
export namespace MlflowCommandIDs {
  export const push = 'deardiary:mlflow-push';
  export const pull = 'deardiary:mlflow-pull';
}

/** GET /deardiary/mlflow */
export interface IMlflowStatus {
  installed: boolean;
  version: string | null;
  configured: boolean;
  tracking_uri: string | null;
  auto_push: boolean;
  install: string;
}

/** One run of a job's results. */
export interface IMlflowResult {
  run_id: number;
  snapshot_id: string;
  mlflow_run_id: string;
  /** push: pushed | resumed | already */
  state?: 'pushed' | 'resumed' | 'already';
  experiment_id?: string;
  /** pull: whether the run was added (false: the store had it) */
  created?: boolean;
}

/** GET /deardiary/mlflow/jobs/<id> */
export interface IMlflowJob {
  id: string;
  kind: 'push' | 'pull';
  state: 'queued' | 'running' | 'done' | 'error';
  total: number;
  done: number;
  current: string | null;
  bytes_sent: number;
  bytes_skipped: number;
  /** Each run's result, once the job ended (empty while it runs). */
  results: IMlflowResult[];
  error: { error: string; message: string } | null;
}

export function mlflowStatus(
  settings?: ServerConnection.ISettings
): Promise<IMlflowStatus> {
  return requestJSON<IMlflowStatus>('mlflow', {}, settings);
}

export async function startPush(
  runIds: readonly number[],
  settings?: ServerConnection.ISettings
): Promise<IMlflowJob> {
  const answer = await requestJSON<{ job: IMlflowJob }>(
    'mlflow/push',
    { method: 'POST', body: JSON.stringify({ run_ids: runIds }) },
    settings
  );
  return answer.job;
}

export async function startPull(
  mlflowRunIds: readonly string[],
  settings?: ServerConnection.ISettings
): Promise<IMlflowJob> {
  const answer = await requestJSON<{ job: IMlflowJob }>(
    'mlflow/pull',
    { method: 'POST', body: JSON.stringify({ mlflow_run_ids: mlflowRunIds }) },
    settings
  );
  return answer.job;
}

export function readJob(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<IMlflowJob> {
  return requestJSON<IMlflowJob>(
    `mlflow/jobs/${encodeURIComponent(id)}`,
    {},
    settings
  );
}

/** Ask for the job's progress every `interval` ms until it ends; `onProgress` each time. */
export async function followJob(
  job: IMlflowJob,
  onProgress: (job: IMlflowJob) => void,
  settings?: ServerConnection.ISettings,
  interval = 500
): Promise<IMlflowJob> {
  let current = job;
  while (current.state === 'queued' || current.state === 'running') {
    onProgress(current);
    await new Promise(resolve => setTimeout(resolve, interval));
    current = await readJob(current.id, settings);
  }
  return current;
}

/** A job's progress in words. */
export function progressText(
  trans: TranslationBundle,
  job: IMlflowJob
): string {
  return job.kind === 'push'
    ? trans.__('Pushing runs to MLflow: %1 of %2', job.done, job.total)
    : trans.__('Importing runs from MLflow: %1 of %2', job.done, job.total);
}

/** A finished job's result in words. */
export function resultText(trans: TranslationBundle, job: IMlflowJob): string {
  if (job.kind === 'pull') {
    const added = job.results.filter(r => r.created).length;
    return trans.__(
      'Imported from MLflow: %1 added, %2 already in the store',
      added,
      job.results.length - added
    );
  }
  const count = (state: string) =>
    job.results.filter(r => r.state === state).length;
  return trans.__(
    'Pushed to MLflow: %1 new, %2 completed, %3 already there (%4 KiB sent)',
    count('pushed'),
    count('resumed'),
    count('already'),
    Math.round(job.bytes_sent / 1024)
  );
}

/**
 * Start a job and follow it in one Notification: in progress, then success or the
 * server's refusal in words (MLflow not installed, not configured, unreachable, 401, 403).
 */
export async function runJob(
  trans: TranslationBundle,
  kind: 'push' | 'pull',
  start: () => Promise<IMlflowJob>,
  settings?: ServerConnection.ISettings,
  actions: (job: IMlflowJob) => Notification.IAction[] = () => []
): Promise<IMlflowJob | null> {
  const id = Notification.emit(
    kind === 'push'
      ? trans.__('Pushing runs to MLflow…')
      : trans.__('Importing runs from MLflow…'),
    'in-progress',
    { autoClose: false }
  );
  const fail = (reason: string) => {
    const message =
      kind === 'push'
        ? trans.__('Not pushed to MLflow: %1', reason)
        : trans.__('Not imported from MLflow: %1', reason);
    Notification.update({ id, message, type: 'error', autoClose: false });
    return null;
  };
  let job: IMlflowJob;
  try {
    job = await start();
  } catch (error) {
    return fail(
      error instanceof ServerError
        ? error.message
        : trans.__('The server could not be asked: %1', String(error))
    );
  }
  try {
    job = await followJob(
      job,
      j =>
        Notification.update({
          id,
          message: progressText(trans, j),
          type: 'in-progress',
          autoClose: false
        }),
      settings
    );
  } catch (error) {
    return fail(String((error as Error).message ?? error));
  }
  if (job.state === 'error') {
    fail(job.error?.message ?? trans.__('The MLflow job failed'));
    return job;
  }
  Notification.update({
    id,
    message: resultText(trans, job),
    type: 'success',
    autoClose: 8000,
    actions: actions(job)
  });
  return job;
}
