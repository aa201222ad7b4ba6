import { ISignal } from '@lumino/signaling';

/** What the unsaved-edits tracker needs of a document context. */
export interface IEditsContext {
  /** Resolves once the file is loaded into the model. */
  readonly ready: Promise<void>;
  /** Emitted when the file is loaded, saved or reverted. */
  readonly fileChanged: ISignal<any, any>;
  readonly model: {
    readonly dirty: boolean;
    toJSON(): unknown;
  };
}

/**
 * The part of a notebook the user edits: each cell's type and source, blank
 * cells left out (Shift+Enter on the last cell appends an empty one: nothing
 * the user wrote is unsaved). Notebook metadata (kernelspec, language_info
 * written by the kernel or JupyterLab on open), cell ids, outputs and
 * execution counts are left out too.
 */
export function userContent(notebook: unknown): string {
  const cells = (notebook as { cells?: unknown[] } | null)?.cells ?? [];
  return JSON.stringify(
    cells
      .map(cell => {
        const c = cell as { cell_type?: string; source?: string | string[] };
        const source = Array.isArray(c.source) ? c.source.join('') : c.source;
        return [c.cell_type ?? '', source ?? ''];
      })
      .filter(([, source]) => source.trim() !== '')
  );
}

/**
 * Tracks whether the user's content differs from what was last loaded or
 * saved. `model.dirty` alone is not that: opening a notebook marks the model
 * dirty, and the kernel writes metadata such as language_info.
 *
 * Returns a function answering "has the user unsaved edits?".
 */
export function trackUserEdits(context: IEditsContext): () => boolean {
  let saved: string | null = null;
  const baseline = () => {
    saved = userContent(context.model.toJSON());
  };
  context.fileChanged.connect(baseline);
  void context.ready.then(baseline, () => undefined);
  return () => {
    if (saved === null || !context.model.dirty) {
      return false;
    }
    return userContent(context.model.toJSON()) !== saved;
  };
}
