/**
 * A run as the recorder hands it over (IRunInput, bytes as base64) made ready to send:
 * every byte verified against its declared size and sha256, the record to POST and the
 * blobs it names.
 */
import { RunInputError } from './errors';
import type { IRunInput, IRunRecord, RunRecordGit } from './types';
import { fromBase64, sha256 } from '../bytes';

/** Exact bytes and their sha256 (hex). */
export interface IBlob {
  sha256: string;
  bytes: Uint8Array;
}

/** A verified run: what POST /deardiary/runs takes and the blobs it references. */
export interface IPreparedRun {
  record: IRunRecord;
  /** One per sha256: captured files, the notebook when kept, the git patch. */
  blobs: IBlob[];
}

/** Decode and verify every byte of a run (RunInputError: nothing is to be stored). */
export async function prepare(input: IRunInput): Promise<IPreparedRun> {
  const blobs = new Map<string, Uint8Array>();
  for (const file of input.capture.files) {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(file.base64 ?? '');
    } catch {
      throw new RunInputError(`${file.name}: its base64 does not decode.`);
    }
    await verify(file.name, bytes, file.size, file.sha256);
    blobs.set(file.sha256, bytes);
  }
  const { notebook, git } = input;
  if (notebook.bytes) {
    await verify(notebook.path, notebook.bytes, notebook.size, notebook.sha256);
    blobs.set(notebook.sha256, notebook.bytes);
  }
  const { bytes, saved, ...notebookFacts } = notebook;
  if (saved?.bytes) {
    await verify(
      `${notebook.path} (saved)`,
      saved.bytes,
      saved.size,
      saved.sha256
    );
    blobs.set(saved.sha256, saved.bytes);
  }
  let recordGit: RunRecordGit;
  if (git.state === 'ok' && git.git.patch) {
    // The patch is a blob of its own (an empty one stays as it is, as before).
    const { patch, ...rest } = git.git;
    const bytes = new TextEncoder().encode(patch);
    const patchSha = await sha256(bytes);
    blobs.set(patchSha, bytes);
    recordGit = { state: 'ok', git: { ...rest, patch_sha256: patchSha } };
  } else if (git.state === 'ok') {
    recordGit = { state: 'ok', git: { ...git.git, patch_sha256: null } };
  } else {
    recordGit = git;
  }
  const record: IRunRecord = {
    snapshot_id: input.snapshot_id,
    trigger: input.trigger,
    note: input.note,
    created_at: input.created_at,
    ended_at: input.ended_at,
    parent_snapshot_id: input.parent_snapshot_id,
    kernel: input.kernel,
    capture: {
      ...input.capture,
      files: input.capture.files.map(({ base64, ...file }) => file)
    },
    git: recordGit,
    notebook: {
      ...notebookFacts,
      stored: bytes !== null,
      // Only when there is one: a run without stays as older servers take it.
      ...(saved
        ? {
            saved: {
              sha256: saved.sha256,
              size: saved.size,
              stored: saved.bytes !== null
            }
          }
        : {})
    }
  };
  return {
    record,
    blobs: [...blobs].map(([sha, b]) => ({ sha256: sha, bytes: b }))
  };
}

async function verify(
  name: string,
  bytes: Uint8Array,
  size: number,
  expected: string
): Promise<void> {
  if (bytes.length !== size) {
    throw new RunInputError(
      `${name}: ${bytes.length} bytes, ${size} were declared. Nothing was stored.`
    );
  }
  const actual = await sha256(bytes);
  if (actual !== expected) {
    throw new RunInputError(
      `${name}: the bytes hash to ${actual}, ${expected} was declared. Nothing was stored.`
    );
  }
}
