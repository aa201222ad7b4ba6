/**
 * Sharing runs (issue 17): a bundle (one zip of runs, their exact files and restore.jl)
 * out of the store and back into one, and an export into DearDiary.jl's own store.
 * The JSON here mirrors jupyterlab_deardiary/bundle.py, deardiary_export.py and
 * share_routes.py field for field.
 */
import { ServerConnection } from '@jupyterlab/services';
import { requestJSON, requestRaw, toError } from '../server/request';

/** Command ids of this module. */
export namespace ShareCommandIDs {
  export const exportBundle = 'deardiary:export-bundle';
  export const importBundle = 'deardiary:import-bundle';
  export const exportDearDiary = 'deardiary:export-deardiary';
}

/** One run of an import report. */
export interface IImportedRun {
  snapshot_id: string;
  id: number;
}

/** POST /deardiary/bundles/import answer. */
export interface IImportReport {
  added: IImportedRun[];
  already: IImportedRun[];
  refused: { snapshot_id: string | null; error: string; message: string }[];
  version: string | null;
}

/** A bundle made by POST /deardiary/bundles. */
export interface IBundle {
  data: Blob;
  filename: string;
  runs: number;
}

/** One run of a DearDiary export report. */
export interface IExportedRun {
  snapshot_id: string;
  run_id: number;
  iteration_id: number | string;
}

/** POST /deardiary/deardiary-export answer. */
export interface IDearDiaryReport {
  path: string;
  flavour: string;
  added: IExportedRun[];
  already: IExportedRun[];
  refused: { snapshot_id: string; run_id: number; message: string }[];
}

/** The runs `ids` as one bundle (a zip). */
export async function exportBundle(
  ids: readonly number[],
  settings?: ServerConnection.ISettings
): Promise<IBundle> {
  const raw = await requestRaw(
    'bundles',
    { method: 'POST', body: JSON.stringify({ ids }) },
    settings
  );
  if (raw.status !== 200) {
    throw toError(raw);
  }
  const disposition = raw.headers.get('Content-Disposition') ?? '';
  const filename =
    /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'deardiary-runs.zip';
  return {
    data: new Blob([raw.body], { type: 'application/zip' }),
    filename,
    runs: Number(raw.headers.get('X-DearDiary-Runs') ?? ids.length)
  };
}

/** Add the runs of a bundle to the store (every sha256 is checked first). */
export function importBundle(
  data: Blob,
  settings?: ServerConnection.ISettings
): Promise<IImportReport> {
  return requestJSON<IImportReport>(
    'bundles/import',
    {
      method: 'POST',
      body: data,
      headers: { 'Content-Type': 'application/zip' }
    },
    settings
  );
}

/** Add runs (`ids`, or all when null) to the DearDiary store file `path`. */
export function exportToDearDiary(
  path: string,
  ids: readonly number[] | null,
  flavour = 'v0.9.1',
  settings?: ServerConnection.ISettings
): Promise<IDearDiaryReport> {
  const body =
    ids === null ? { path, all: true, flavour } : { path, ids, flavour };
  return requestJSON<IDearDiaryReport>(
    'deardiary-export',
    { method: 'POST', body: JSON.stringify(body) },
    settings
  );
}

/** Save a Blob as a download of the browser. */
export function download(data: Blob, filename: string): void {
  const url = URL.createObjectURL(data);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Ask the user for one file (null: cancelled). */
export function chooseFile(accept: string): Promise<File | null> {
  return new Promise(resolve => {
    const input = document.createElement('input');
    input.type = 'file';
    input.accept = accept;
    input.className = 'jp-DearDiary-bundleInput';
    input.hidden = true;
    input.addEventListener('change', () => {
      resolve(input.files?.[0] ?? null);
      input.remove();
    });
    input.addEventListener('cancel', () => {
      resolve(null);
      input.remove();
    });
    document.body.appendChild(input);
    input.click();
  });
}
