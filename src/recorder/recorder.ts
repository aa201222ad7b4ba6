/**
 * The recorder: one run = a capture from the kernel + the git state of the notebook's
 * folder + the notebook as it is in the editor (and its saved file when that differs),
 * verified, handed to the store. No DOM.
 */
import { IKernelspecRecord } from '../kernel/kernelspec';
import { ICapture } from '../kernel/protocol';
import { ServerError } from '../server/request';
import { IGitState } from '../store/types';
import {
  IAddResult,
  IRunInput,
  NotebookOrigin,
  RunGit,
  RunTrigger
} from '../store/types';
import { sha256 } from '../bytes';
import { serializeNotebook } from './notebook-bytes';

/** What the recorder needs from the rest of the extension (each a tested seam). */
export interface IRecorderDeps {
  /** GET /deardiary/git for a path relative to the server root. */
  git(path: string): Promise<IGitState>;
  /** The saved bytes of a file relative to the server root. */
  readFile(path: string): Promise<Uint8Array>;
  /** Store a run (dedup by snapshot_id). */
  addRun(input: IRunInput): Promise<IAddResult>;
  /** Options read at each recording (settings can change at any time). */
  options(): IRecorderOptions;
  /** The installed kernelspec of that name, recorded with the run (redacted). */
  kernelspec?(name: string): IKernelspecRecord | null;
}

export interface IRecorderOptions {
  /** Keep the notebook's bytes with the run. */
  keepNotebook: boolean;
  /** Largest patch kept with a run, in bytes (the server has its own cap too). */
  patchMaxBytes: number;
}

/** One recording request. */
export interface IRecordRequest {
  notebookPath: string;
  /** The user has unsaved edits (the editor's content is recorded, the saved file too). */
  unsaved: boolean;
  kernel: IRunInput['kernel'];
  /** The capture (already taken: at kernel start, or sent by @snapshot). */
  capture: ICapture;
  /** When the capture was taken. */
  capturedAt: Date;
  trigger: RunTrigger;
  note?: string;
  snapshotId?: string;
  parentSnapshotId?: string | null;
  /** The git state and notebook bytes, when `gather` was started already. */
  gathered?: Promise<IGathered>;
}

/** What a run takes from outside the kernel: the git state and the notebook's bytes. */
export interface IGathered {
  git: RunGit;
  /** The editor's notebook as a save would write it ('editor'), else the saved file. */
  notebook: Uint8Array;
  origin: NotebookOrigin;
  /** The saved file's bytes when they differ from the editor's (null: same or unread). */
  saved: Uint8Array | null;
}

export class Recorder {
  constructor(private readonly _deps: IRecorderDeps) {}

  /**
   * Record one run. The kernel part is already in the request; git and notebook
   * failures are recorded as such instead of failing the run.
   */
  async record(request: IRecordRequest): Promise<IAddResult> {
    const options = this._deps.options();
    const { git, notebook, origin, saved } = await (request.gathered ??
      this.gather(request.notebookPath));
    const input: IRunInput = {
      snapshot_id: request.snapshotId ?? newSnapshotId(),
      trigger: request.trigger,
      note: request.note ?? '',
      created_at: request.capturedAt.toISOString(),
      ended_at: new Date().toISOString(),
      parent_snapshot_id: request.parentSnapshotId ?? null,
      kernel: {
        ...request.kernel,
        spec: request.kernel.spec ?? this._kernelspec(request.kernel.name)
      },
      capture: request.capture,
      git,
      notebook: {
        path: request.notebookPath,
        bytes: options.keepNotebook ? notebook : null,
        sha256: await sha256(notebook),
        size: notebook.length,
        unsaved_changes: request.unsaved,
        origin,
        saved: saved && {
          bytes: options.keepNotebook ? saved : null,
          sha256: await sha256(saved),
          size: saved.length
        }
      }
    };
    return this._deps.addRun(input);
  }

  /**
   * Read the git state and the notebook's bytes (started while the kernel captures, a
   * click waits for the slower of the two, not for both in turn). `content`, the
   * notebook model's JSON at this moment, is what the run keeps (serialized as a save
   * would write it); the saved file too when it differs. Without it, the saved file.
   */
  async gather(notebookPath: string, content?: unknown): Promise<IGathered> {
    // Serialized now, before any await: the editor's content at snapshot time.
    const editor = content === undefined ? null : serializeNotebook(content);
    const file = this._deps.readFile(notebookPath);
    if (editor) {
      file.catch(() => undefined);
    }
    const [git, saved] = await Promise.all([
      this._git(notebookPath, this._deps.options().patchMaxBytes),
      // With the editor's bytes, an unreadable saved file (deleted, not saved yet)
      // only means there is no second copy.
      editor ? file.catch(() => null) : file
    ]);
    if (!editor) {
      return { git, notebook: saved!, origin: 'file', saved: null };
    }
    return {
      git,
      notebook: editor,
      origin: 'editor',
      saved: saved && !sameBytes(saved, editor) ? saved : null
    };
  }

  private _kernelspec(name: string): IKernelspecRecord | null {
    try {
      return (name && this._deps.kernelspec?.(name)) || null;
    } catch {
      return null; // the kernelspecs are not known yet: the run is still recorded
    }
  }

  private async _git(path: string, patchMaxBytes: number): Promise<RunGit> {
    try {
      return {
        state: 'ok',
        git: capPatch(await this._deps.git(path), patchMaxBytes)
      };
    } catch (error) {
      const e = error as Error;
      return {
        state: 'unknown',
        error_code: error instanceof ServerError ? error.code : 'error',
        message: e.message
      };
    }
  }
}

/** Keep at most `max` bytes of the patch, cut at a line end, and say so. */
export function capPatch(git: IGitState, max: number): IGitState {
  const patch = git.patch ?? '';
  const bytes = new TextEncoder().encode(patch);
  if (bytes.length <= max) {
    return git;
  }
  let text = new TextDecoder().decode(bytes.slice(0, max));
  text = text.replace(/\uFFFD$/, '');
  const cut = text.lastIndexOf('\n');
  return {
    ...git,
    patch: cut >= 0 ? text.slice(0, cut + 1) : '',
    truncated: true
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A unique id for a run recorded from this browser. */
export function newSnapshotId(): string {
  const random = new Uint8Array(16);
  crypto.getRandomValues(random);
  const hex = Array.from(random, b => b.toString(16).padStart(2, '0')).join('');
  return `${hex}-${Date.now()}`;
}
