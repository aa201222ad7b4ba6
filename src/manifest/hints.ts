/**
 * Restorability hints: what in a captured run may keep it from being restored as it
 * was, and what to do about it. Computed from the capture, its parsed manifest and
 * the git state, shown with the run's details.
 */
import { ICapture } from '../kernel/protocol';
import { IRunDetail, RunGit } from '../store/types';
import { IManifest, parseManifest } from './parse';
import { runStaleness, StaleReason } from './stale';
import { parseVersion } from './version';

/** What a hint is about. */
export type HintCode =
  | 'no-project'
  | 'no-manifest'
  | 'global-environment'
  | 'julia-mismatch'
  | 'stale-manifest'
  | 'path-dependency'
  | 'dirty-uncaptured';

/** Changes in the working tree that the stored patch lacks (dirty-uncaptured). */
export interface IUncaptured {
  /** The patch hit the size cap: its size before the cut (null: not told), else undefined. */
  truncated?: number | null;
  untracked: number;
  binary: string[];
}

/**
 * One restorability hint: a code and its parameters. The words are the views' (see
 * `hintMessage` in ./words, which translates them).
 */
export interface IHint {
  code: HintCode;
  /** 'warning': the restore may differ from the run; 'info': worth knowing. */
  severity: 'warning' | 'info';
  /** The packages concerned (path-dependency). */
  packages?: string[];
  /** path-dependency: each package's `path`, relative to the manifest's folder. */
  paths?: string[];
  /** stale-manifest: what does not match. */
  reasons?: StaleReason[];
  /**
   * julia-mismatch: the kernel's Julia and the manifest's `julia_version` (null: a
   * manifest in the pre-1.7 format, which does not say).
   */
  julia?: { kernel: string; manifest: string | null };
  /** dirty-uncaptured. */
  uncaptured?: IUncaptured;
}

/** What restoreHints looks at. */
export interface IHintInput {
  /** The capture (file bytes are not needed). */
  capture: ICapture;
  /** The run's parsed manifest; null when there is none or it did not parse. */
  manifest: IManifest | null;
  git: RunGit;
  /** Why the manifest does not match the project (manifest/stale.ts); none: []. */
  stale?: StaleReason[];
}

/**
 * The hints for one run, in a fixed order: no-project, no-manifest,
 * global-environment, julia-mismatch, stale-manifest, path-dependency, dirty-uncaptured.
 *
 * - no-project: no active project, or its file did not exist (warning).
 * - no-manifest: a project without a manifest; only when there is a project (warning).
 * - global-environment: Julia's shared default environment (info).
 * - julia-mismatch: the manifest's `julia_version` differs from the kernel's in major
 *   or minor (warning); a manifest in the pre-1.7 format under Julia 1.7 or later (info).
 * - stale-manifest: the manifest does not match the project: a dependency missing from
 *   it, a version outside the project's compat, a project changed since (warning).
 * - path-dependency: entries with `path =`, except the project itself (".") (warning).
 * - dirty-uncaptured: uncommitted changes the stored patch lacks: the patch hit the
 *   size cap, untracked files, binary files (warning).
 */
export function restoreHints(input: IHintInput): IHint[] {
  const { capture, manifest, git } = input;
  const hints: IHint[] = [];
  const hasFile = (role: 'project' | 'manifest') =>
    capture.files.some(f => f.role === role);

  const hasProject =
    capture.project !== null && capture.project.exists && hasFile('project');
  if (!hasProject) {
    hints.push({ code: 'no-project', severity: 'warning' });
  } else if (
    capture.manifest === null ||
    !capture.manifest.exists ||
    !hasFile('manifest')
  ) {
    hints.push({ code: 'no-manifest', severity: 'warning' });
  }

  if (capture.project?.is_global) {
    hints.push({ code: 'global-environment', severity: 'info' });
  }

  if (manifest !== null) {
    const mismatch = juliaMismatch(capture.julia_version, manifest);
    if (mismatch !== null) {
      hints.push(mismatch);
    }
    if (input.stale?.length) {
      hints.push({
        code: 'stale-manifest',
        severity: 'warning',
        reasons: input.stale
      });
    }
    const paths = manifest.packages.filter(
      p => p.path !== null && !isProjectItself(p.path)
    );
    if (paths.length > 0) {
      hints.push({
        code: 'path-dependency',
        severity: 'warning',
        packages: paths.map(p => p.name),
        paths: paths.map(p => p.path!)
      });
    }
  }

  const uncaptured = uncapturedChanges(git);
  if (uncaptured !== null) {
    hints.push({ code: 'dirty-uncaptured', severity: 'warning', uncaptured });
  }
  return hints;
}

function isProjectItself(path: string): boolean {
  return path === '.' || path === './' || path === '.\\' || path === '';
}

function juliaMismatch(kernel: string, manifest: IManifest): IHint | null {
  const k = parseVersion(kernel);
  if (k === null) {
    return null;
  }
  if (manifest.julia_version === null) {
    return manifest.format === '1.0' && (k.major > 1 || k.minor >= 7)
      ? {
          code: 'julia-mismatch',
          severity: 'info',
          julia: { kernel, manifest: null }
        }
      : null;
  }
  const m = parseVersion(manifest.julia_version);
  if (m === null || (m.major === k.major && m.minor === k.minor)) {
    return null;
  }
  return {
    code: 'julia-mismatch',
    severity: 'warning',
    julia: { kernel, manifest: manifest.julia_version }
  };
}

function uncapturedChanges(git: RunGit): IUncaptured | null {
  if (git.state !== 'ok' || !git.git.repo || git.git.dirty !== true) {
    return null;
  }
  const g = git.git;
  const out: IUncaptured = {
    untracked: g.untracked_count ?? 0,
    binary: g.binary_files ?? []
  };
  if (g.truncated) {
    out.truncated = g.patch_bytes ?? null;
  }
  return out.truncated !== undefined || out.untracked > 0 || out.binary.length
    ? out
    : null;
}

/** The hints of a stored run, its manifest read through `store` (unparseable: none). */
export async function runHints(
  store: { getText(sha256: string): Promise<string | null> },
  run: IRunDetail
): Promise<IHint[]> {
  let manifest: IManifest | null = null;
  if (run.manifest_sha256) {
    const text = await store.getText(run.manifest_sha256);
    try {
      manifest = text === null ? null : parseManifest(text);
    } catch {
      manifest = null;
    }
  }
  const stale = manifest ? await runStaleness(store, run, manifest) : [];
  return restoreHints({ capture: run.capture, manifest, git: run.git, stale });
}
