/**
 * `metadata.deardiary` of a notebook: which run its outputs come from. A snapshot writes
 * it into the notebook's model (the next save carries it); opening a notebook reads it.
 * Nothing secret: ids, a date, the Julia version, the environment files' base names and
 * sha256s (no paths, no environment values). A copy on another machine keeps the link
 * by the sha256s when the run is not in that store.
 */
import { ICapture } from '../kernel/protocol';
import { IRunSummary } from '../store/types';

/** The metadata key. */
export const METADATA_KEY = 'deardiary';

/** An environment file by name and content. */
export interface IMetadataFile {
  /** Its base name (Project.toml, Manifest-v1.11.toml). */
  name: string;
  sha256: string;
}

/** `metadata.deardiary` (format 1). */
export interface IRunMetadata {
  format: 1;
  /** The store's id of the run (iteration id): valid in the store that recorded it. */
  run_id: number;
  /** The run's number among its notebook's runs ("Run #N"), in that store. */
  run_number: number;
  /** Unique everywhere: what finds the run in a store. */
  snapshot_id: string;
  /** When the environment was captured (ISO 8601). */
  created_at: string;
  julia_version: string;
  project: IMetadataFile | null;
  manifest: IMetadataFile | null;
}

/** The metadata of a recorded run (its summary and the capture it was made of). */
export function runMetadata(run: IRunSummary, capture: ICapture): IRunMetadata {
  const file = (role: 'project' | 'manifest'): IMetadataFile | null => {
    const f = capture.files.find(x => x.role === role);
    return f ? { name: f.name, sha256: f.sha256 } : null;
  };
  return {
    format: 1,
    run_id: run.id,
    run_number: run.number,
    snapshot_id: run.snapshot_id,
    created_at: run.created_at,
    julia_version: capture.julia_version,
    project: file('project'),
    manifest: file('manifest')
  };
}

const SHA = /^[0-9a-f]{64}$/;

/**
 * `metadata.deardiary` as read from a notebook (edited by hand, written by another
 * version): the metadata, or null when it is absent or not of this shape.
 */
export function parseRunMetadata(value: unknown): IRunMetadata | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return null;
  }
  const v = value as Record<string, unknown>;
  const file = (x: unknown): IMetadataFile | null | undefined => {
    if (x === null || x === undefined) {
      return null;
    }
    const f = x as Record<string, unknown>;
    return typeof f === 'object' &&
      typeof f.name === 'string' &&
      typeof f.sha256 === 'string' &&
      SHA.test(f.sha256)
      ? { name: f.name, sha256: f.sha256 }
      : undefined;
  };
  const project = file(v.project);
  const manifest = file(v.manifest);
  if (
    v.format !== 1 ||
    typeof v.snapshot_id !== 'string' ||
    !v.snapshot_id ||
    typeof v.julia_version !== 'string' ||
    project === undefined ||
    manifest === undefined
  ) {
    return null;
  }
  return {
    format: 1,
    run_id: typeof v.run_id === 'number' ? v.run_id : 0,
    run_number: typeof v.run_number === 'number' ? v.run_number : 0,
    snapshot_id: v.snapshot_id,
    created_at: typeof v.created_at === 'string' ? v.created_at : '',
    julia_version: v.julia_version,
    project,
    manifest
  };
}

/** Same run, same facts: writing it again would change nothing. */
export function sameMetadata(a: unknown, b: IRunMetadata): boolean {
  return JSON.stringify(parseRunMetadata(a)) === JSON.stringify(b);
}

/** The run a notebook's metadata names, as this store knows it. */
export type RunLink =
  /** The run is in this store. */
  | { state: 'run'; run: IRunSummary; metadata: IRunMetadata }
  /** Not in this store: only the metadata's hashes link the outputs to an environment. */
  | { state: 'elsewhere'; metadata: IRunMetadata };

/** Find the metadata's run among `runs` by its snapshot id (ids differ between stores). */
export function linkRun(
  metadata: IRunMetadata,
  runs: readonly IRunSummary[]
): RunLink {
  const run = runs.find(r => r.snapshot_id === metadata.snapshot_id);
  return run
    ? { state: 'run', run, metadata }
    : { state: 'elsewhere', metadata };
}

/** The first hex digits of a sha256, as the item shows it ("ab12…"). */
export function shortSha(sha: string, n = 4): string {
  return `${sha.slice(0, n)}\u2026`;
}

/** What drift compares the live kernel with. */
export type DriftBaseline =
  /** A stored run: the one the metadata names (`fromMetadata`), else the last one. */
  | { kind: 'run'; run: IRunSummary; fromMetadata: boolean }
  /** The metadata's run is not in this store: its hashes. */
  | { kind: 'hashes'; metadata: IRunMetadata }
  /** No metadata and no run of this notebook. */
  | { kind: 'none' };

/**
 * The run behind the notebook's outputs when its metadata names one (found by snapshot
 * id, or known by its hashes when not in this store), else the notebook's last run.
 */
export function driftBaseline(
  runs: readonly IRunSummary[],
  notebookPath: string,
  metadata: IRunMetadata | null
): DriftBaseline {
  if (metadata) {
    const link = linkRun(metadata, runs);
    return link.state === 'run'
      ? { kind: 'run', run: link.run, fromMetadata: true }
      : { kind: 'hashes', metadata };
  }
  let last: IRunSummary | null = null;
  for (const r of runs) {
    if (
      r.notebook_path === notebookPath &&
      (!last ||
        r.created_at > last.created_at ||
        (r.created_at === last.created_at && r.id > last.id))
    ) {
      last = r;
    }
  }
  return last
    ? { kind: 'run', run: last, fromMetadata: false }
    : { kind: 'none' };
}
