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

/** One restorability hint. */
export interface IHint {
  code: HintCode;
  /** 'warning': the restore may differ from the run; 'info': worth knowing. */
  severity: 'warning' | 'info';
  /** One or two sentences: the problem and what to do. */
  message: string;
  /** The packages concerned (path-dependency). */
  packages?: string[];
  /** path-dependency: each package's `path`, relative to the manifest's folder. */
  paths?: string[];
  /** stale-manifest: what does not match. */
  reasons?: StaleReason[];
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
    hints.push({
      code: 'no-project',
      severity: 'warning',
      message:
        'No project file was active, so no package environment was recorded. ' +
        'Activate a project for this notebook (Pkg.activate(".")), add its packages, ' +
        'and record a new run.'
    });
  } else if (
    capture.manifest === null ||
    !capture.manifest.exists ||
    !hasFile('manifest')
  ) {
    hints.push({
      code: 'no-manifest',
      severity: 'warning',
      message:
        'The project has no Manifest.toml, so the exact package versions were not ' +
        'recorded and a restore resolves to whatever is newest then. Run ' +
        'Pkg.instantiate() (or Pkg.resolve()) to write the manifest, then record a new run.'
    });
  }

  if (capture.project?.is_global) {
    hints.push({
      code: 'global-environment',
      severity: 'info',
      message:
        "The run used Julia's global environment, which every notebook and REPL " +
        'session shares, so it may hold much more than this notebook needs. Give the ' +
        'notebook its own project (Pkg.activate(".")) for a smaller, exact record.'
    });
  }

  if (manifest !== null) {
    const mismatch = juliaMismatch(capture.julia_version, manifest);
    if (mismatch !== null) {
      hints.push(mismatch);
    }
    if (input.stale?.length) {
      hints.push(staleHint(input.stale));
    }
    const paths = manifest.packages.filter(
      p => p.path !== null && !isProjectItself(p.path)
    );
    if (paths.length > 0) {
      const list = paths.map(p => `${p.name} (${p.path})`).join(', ');
      hints.push({
        code: 'path-dependency',
        severity: 'warning',
        message:
          `Loaded from a local folder rather than a registry or repository: ${list}. ` +
          'A restore elsewhere needs these folders at the same place (relative to the ' +
          'manifest); or add the packages from a registry or a git URL instead.',
        packages: paths.map(p => p.name),
        paths: paths.map(p => p.path!)
      });
    }
  }

  const uncaptured = uncapturedChanges(git);
  if (uncaptured.length > 0) {
    hints.push({
      code: 'dirty-uncaptured',
      severity: 'warning',
      message:
        `The working tree had changes the run did not store: ${uncaptured.join('; ')}. ` +
        'Commit them (or add the untracked files) and record a new run to keep the exact code.'
    });
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
    if (manifest.format === '1.0' && (k.major > 1 || k.minor >= 7)) {
      return {
        code: 'julia-mismatch',
        severity: 'info',
        message:
          `The manifest is in the format of Julia 1.6 and older, but the kernel runs ` +
          `Julia ${kernel}. Packages may resolve differently; run Pkg.resolve() under ` +
          `this Julia and record a new run to pin what it uses.`
      };
    }
    return null;
  }
  const m = parseVersion(manifest.julia_version);
  if (m === null || (m.major === k.major && m.minor === k.minor)) {
    return null;
  }
  return {
    code: 'julia-mismatch',
    severity: 'warning',
    message:
      `The manifest was resolved by Julia ${manifest.julia_version}, but the kernel ` +
      `runs Julia ${kernel}. Restore with Julia ${m.major}.${m.minor} to get the same ` +
      `packages, or run Pkg.resolve() under ${kernel} and record a new run.`
  };
}

function staleHint(reasons: StaleReason[]): IHint {
  const parts = reasons.map(reason => {
    switch (reason.code) {
      case 'missing':
        return `${reason.name} is in Project.toml but not in the manifest`;
      case 'compat':
        return reason.name === 'julia'
          ? `the manifest was resolved by Julia ${reason.version}, outside compat julia = "${reason.compat}"`
          : `${reason.name} ${reason.version} is outside compat ${reason.name} = "${reason.compat}"`;
      default:
        return "Project.toml's [deps] or [compat] changed after the manifest was resolved (its project_hash differs)";
    }
  });
  return {
    code: 'stale-manifest',
    severity: 'warning',
    message:
      `The manifest does not match Project.toml: ${parts.join('; ')}. ` +
      'Pkg.instantiate() may fail or install other versions than the project asks ' +
      'for; run Pkg.resolve() and record a new run.',
    reasons
  };
}

function uncapturedChanges(git: RunGit): string[] {
  if (git.state !== 'ok' || !git.git.repo || git.git.dirty !== true) {
    return [];
  }
  const g = git.git;
  const out: string[] = [];
  if (g.truncated) {
    out.push(
      g.patch_bytes === undefined
        ? 'the patch was cut at the size cap'
        : `the patch (${g.patch_bytes} bytes) was cut at the size cap`
    );
  }
  const untracked = g.untracked_count ?? 0;
  if (untracked > 0) {
    out.push(
      untracked === 1 ? '1 untracked file' : `${untracked} untracked files`
    );
  }
  if (g.binary_files !== undefined && g.binary_files.length > 0) {
    out.push(`binary changes to ${g.binary_files.join(', ')}`);
  }
  return out;
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
