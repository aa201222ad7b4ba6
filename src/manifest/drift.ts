/**
 * What makes two environments the same one, defined once: automatic capture records a
 * new run when the kernel's environment changes by it, and drift compares the live
 * kernel by it with the run the notebook's outputs come from (`metadata.deardiary`),
 * else with the notebook's last run; by hashes only when that run is not in this store.
 */
import { ICapture, pathToString } from '../kernel/protocol';

/** A captured file, its path as text. */
export interface IEnvironmentFile {
  role: string;
  name: string;
  path: string;
  sha256: string;
}

/**
 * An environment as it is compared: the Julia version, the active project file's path
 * (null: none), and every captured file (the active project's, the stacked
 * environments' the kernel loaded packages from, a workspace's members) by role, name,
 * path and content (sha256). Other system facts do not count.
 */
export interface IEnvironment {
  julia_version: string;
  project_path: string | null;
  files: readonly IEnvironmentFile[];
}

/** The environment of a capture or a fingerprint (a stored run's capture too). */
export function environmentOf(capture: ICapture): IEnvironment {
  return {
    julia_version: capture.julia_version,
    project_path: capture.project ? pathToString(capture.project.path) : null,
    files: capture.files.map(f => ({
      role: f.role,
      name: f.name,
      path: pathToString(f.path),
      sha256: f.sha256
    }))
  };
}

/** Equal for the same environment, and only for it. */
export function environmentKey(env: IEnvironment): string {
  return JSON.stringify([
    env.julia_version,
    env.project_path,
    env.files.map(f => [f.role, f.name, f.path, f.sha256])
  ]);
}

/** One difference between the last run and the kernel (the views put it in words). */
export type DriftChange =
  | { code: 'julia'; before: string; after: string }
  | { code: 'project'; before: string | null; after: string | null }
  | { code: 'appeared'; role: 'project' | 'manifest'; name: string }
  | { code: 'gone'; role: 'project' | 'manifest'; name: string }
  | {
      code: 'renamed';
      role: 'project' | 'manifest';
      before: string;
      after: string;
      same_content: boolean;
    }
  | { code: 'changed'; name: string }
  | { code: 'moved'; name: string; before: string; after: string }
  /** The files of the other environments the kernel loads packages from changed. */
  | { code: 'other-environments' };

/** The outcome of drift. */
export interface IDriftResult {
  /**
   * 'same': the same environment; 'changed': see `changes`; 'no-run': the notebook has
   * no recorded run; 'unknown': no fingerprint of the kernel.
   */
  state: 'same' | 'changed' | 'no-run' | 'unknown';
  /** The differences (empty unless 'changed'). */
  changes: DriftChange[];
}

function juliaChange(before: string, after: string): DriftChange[] {
  return before === after ? [] : [{ code: 'julia', before, after }];
}

/** How the project (or manifest) file changed, by which file it is and its content. */
function fileChange(
  role: 'project' | 'manifest',
  before: IHashedFile | null | undefined,
  after: IHashedFile | undefined
): DriftChange | null {
  if (!before) {
    return after ? { code: 'appeared', role, name: after.name } : null;
  }
  if (!after) {
    return { code: 'gone', role, name: before.name };
  }
  if (before.name !== after.name) {
    return {
      code: 'renamed',
      role,
      before: before.name,
      after: after.name,
      same_content: before.sha256 === after.sha256
    };
  }
  return before.sha256 !== after.sha256
    ? { code: 'changed', name: after.name }
    : null;
}

/**
 * Compare the last run with the kernel's fingerprint (`environmentKey` decides); the
 * changes name the Julia version, the active project's path, the project and manifest
 * files (which file is active, by name, and its content, by sha256; a changed location
 * of an unchanged file only when the project path is unchanged), and the other
 * environments' files as one change.
 */
export function drift(
  lastRun: IEnvironment | null,
  live: ICapture | null
): IDriftResult {
  if (lastRun === null) {
    return { state: 'no-run', changes: [] };
  }
  if (live === null) {
    return { state: 'unknown', changes: [] };
  }
  const now = environmentOf(live);
  if (environmentKey(lastRun) === environmentKey(now)) {
    return { state: 'same', changes: [] };
  }
  const changes = juliaChange(lastRun.julia_version, now.julia_version);
  const sameProject = lastRun.project_path === now.project_path;
  if (!sameProject) {
    changes.push({
      code: 'project',
      before: lastRun.project_path,
      after: now.project_path
    });
  }
  for (const role of ['project', 'manifest'] as const) {
    const before = lastRun.files.find(f => f.role === role);
    const after = now.files.find(f => f.role === role);
    const change = fileChange(role, before, after);
    if (change) {
      changes.push(change);
    } else if (before && after && sameProject && before.path !== after.path) {
      changes.push({
        code: 'moved',
        name: after.name,
        before: before.path,
        after: after.path
      });
    }
  }
  const others = (env: IEnvironment) =>
    JSON.stringify(
      env.files
        .filter(f => f.role !== 'project' && f.role !== 'manifest')
        .map(f => [f.role, f.name, f.path, f.sha256])
    );
  if (changes.length === 0 || others(lastRun) !== others(now)) {
    changes.push({ code: 'other-environments' });
  }
  return { state: 'changed', changes };
}

/** An environment file known by name and content only. */
export interface IHashedFile {
  name: string;
  sha256: string;
}

/**
 * An environment known only by its hashes: what a notebook's `metadata.deardiary`
 * carries when its run is not in this store (a copy from another machine).
 */
export interface IHashedEnvironment {
  julia_version: string;
  project: IHashedFile | null;
  manifest: IHashedFile | null;
}

/**
 * Compare an environment known by its hashes with the kernel's fingerprint: the Julia
 * version and the active project's project and manifest files, by name and sha256
 * (paths and the stacked environments are not known, so they do not count).
 */
export function driftByHashes(
  base: IHashedEnvironment | null,
  live: ICapture | null
): IDriftResult {
  if (base === null) {
    return { state: 'no-run', changes: [] };
  }
  if (live === null) {
    return { state: 'unknown', changes: [] };
  }
  const changes = juliaChange(base.julia_version, live.julia_version);
  for (const role of ['project', 'manifest'] as const) {
    const change = fileChange(
      role,
      base[role],
      live.files.find(f => f.role === role)
    );
    if (change) {
      changes.push(change);
    }
  }
  return changes.length
    ? { state: 'changed', changes }
    : { state: 'same', changes: [] };
}
