/**
 * Drift: does the live kernel's environment (its fingerprint) still match the last
 * recorded run of the notebook?
 */
import { ICapture, pathToString } from '../kernel/protocol';

/** A stored file of the last run, as the store lists it. */
export interface IDriftFile {
  role: string;
  name: string;
  sha256: string;
  path: string;
}

/** What drift needs to know about the notebook's last run. */
export interface IDriftRun {
  julia_version: string;
  files: readonly IDriftFile[];
  /** The active project file path of the run, null when there was none. */
  project_path: string | null;
}

/** The outcome of drift. */
export interface IDriftResult {
  /**
   * 'same': nothing compared differs; 'changed': see `changes`; 'no-run': the
   * notebook has no recorded run; 'unknown': no fingerprint of the kernel.
   */
  state: 'same' | 'changed' | 'no-run' | 'unknown';
  /** One human-readable line per difference (empty unless 'changed'). */
  changes: string[];
}

/**
 * Compare the last run with the kernel's fingerprint: the Julia version, the active
 * project's path, and the project and manifest files (which file is active, by name,
 * and its content, by sha256; a changed location of an unchanged file is reported
 * only when the project path is unchanged).
 */
export function drift(
  lastRun: IDriftRun | null,
  live: ICapture | null
): IDriftResult {
  if (lastRun === null) {
    return { state: 'no-run', changes: [] };
  }
  if (live === null) {
    return { state: 'unknown', changes: [] };
  }
  const changes: string[] = [];
  if (lastRun.julia_version !== live.julia_version) {
    changes.push(`Julia ${lastRun.julia_version} → ${live.julia_version}`);
  }
  const livePath =
    live.project === null ? null : pathToString(live.project.path);
  const sameProject = lastRun.project_path === livePath;
  if (!sameProject) {
    changes.push(
      `active project ${lastRun.project_path ?? 'none'} → ${livePath ?? 'none'}`
    );
  }
  for (const role of ['project', 'manifest'] as const) {
    const label = role === 'project' ? 'project file' : 'manifest';
    const before = lastRun.files.find(f => f.role === role);
    const after = live.files.find(f => f.role === role);
    if (before === undefined) {
      if (after !== undefined) {
        changes.push(`${after.name} now exists (the run had no ${label})`);
      }
    } else if (after === undefined) {
      changes.push(`${before.name} is gone (the kernel has no ${label})`);
    } else if (before.name !== after.name) {
      changes.push(
        `${label} ${before.name} → ${after.name}` +
          (before.sha256 === after.sha256 ? ' (same content)' : '')
      );
    } else if (before.sha256 !== after.sha256) {
      changes.push(`${after.name} changed`);
    } else if (sameProject && before.path !== pathToString(after.path)) {
      changes.push(
        `${after.name} moved: ${before.path} → ${pathToString(after.path)}`
      );
    }
  }
  return { state: changes.length > 0 ? 'changed' : 'same', changes };
}
