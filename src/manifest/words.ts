/**
 * The words of what the manifest module finds (it returns codes and parameters):
 * restorability hints (./hints.ts), one or two sentences each, the problem and what to
 * do; drift (./drift.ts), one phrase per change. Translated; the views call these.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { DriftChange } from './drift';
import { IHint, IUncaptured } from './hints';
import { StaleReason } from './stale';
import { parseVersion } from './version';

export function hintMessage(trans: TranslationBundle, hint: IHint): string {
  switch (hint.code) {
    case 'no-project':
      return trans.__(
        'No project file was active, so no package environment was recorded. Activate a project for this notebook (Pkg.activate(".")), add its packages, and record a new run.'
      );
    case 'no-manifest':
      return trans.__(
        'The project has no Manifest.toml, so the exact package versions were not recorded and a restore resolves to whatever is newest then. Run Pkg.instantiate() (or Pkg.resolve()) to write the manifest, then record a new run.'
      );
    case 'global-environment':
      return trans.__(
        'The run used Julia\'s global environment, which every notebook and REPL session shares, so it may hold much more than this notebook needs. Give the notebook its own project (Pkg.activate(".")) for a smaller, exact record.'
      );
    case 'julia-mismatch': {
      const { kernel, manifest } = hint.julia!;
      if (manifest === null) {
        return trans.__(
          'The manifest is in the format of Julia 1.6 and older, but the kernel runs Julia %1. Packages may resolve differently; run Pkg.resolve() under this Julia and record a new run to pin what it uses.',
          kernel
        );
      }
      const m = parseVersion(manifest)!;
      return trans.__(
        'The manifest was resolved by Julia %1, but the kernel runs Julia %2. Restore with Julia %3 to get the same packages, or run Pkg.resolve() under %2 and record a new run.',
        manifest,
        kernel,
        `${m.major}.${m.minor}`
      );
    }
    case 'stale-manifest':
      return trans.__(
        'The manifest does not match Project.toml: %1. Pkg.instantiate() may fail or install other versions than the project asks for; run Pkg.resolve() and record a new run.',
        hint.reasons!.map(r => staleText(trans, r)).join('; ')
      );
    case 'path-dependency':
      return trans.__(
        'Loaded from a local folder rather than a registry or repository: %1. A restore elsewhere needs these folders at the same place (relative to the manifest); or add the packages from a registry or a git URL instead.',
        hint
          .packages!.map((name, i) => `${name} (${hint.paths![i]})`)
          .join(', ')
      );
    case 'dirty-uncaptured':
      return trans.__(
        'The working tree had changes the run did not store: %1. Commit them (or add the untracked files) and record a new run to keep the exact code.',
        uncapturedText(trans, hint.uncaptured!).join('; ')
      );
  }
}

function staleText(trans: TranslationBundle, reason: StaleReason): string {
  switch (reason.code) {
    case 'missing':
      return trans.__(
        '%1 is in Project.toml but not in the manifest',
        reason.name
      );
    case 'compat':
      return reason.name === 'julia'
        ? trans.__(
            'the manifest was resolved by Julia %1, outside compat julia = "%2"',
            reason.version,
            reason.compat
          )
        : trans.__(
            '%1 %2 is outside compat %1 = "%3"',
            reason.name,
            reason.version,
            reason.compat
          );
    default:
      return trans.__(
        "Project.toml's [deps] or [compat] changed after the manifest was resolved (its project_hash differs)"
      );
  }
}

function uncapturedText(trans: TranslationBundle, u: IUncaptured): string[] {
  const out: string[] = [];
  if (u.truncated !== undefined) {
    out.push(
      u.truncated === null
        ? trans.__('the patch was cut at the size cap')
        : trans.__('the patch (%1 bytes) was cut at the size cap', u.truncated)
    );
  }
  if (u.untracked > 0) {
    out.push(trans._n('%1 untracked file', '%1 untracked files', u.untracked));
  }
  if (u.binary.length > 0) {
    out.push(trans.__('binary changes to %1', u.binary.join(', ')));
  }
  return out;
}

/** One change of drift, as a phrase. */
export function driftText(
  trans: TranslationBundle,
  change: DriftChange
): string {
  const label = (role: 'project' | 'manifest') =>
    role === 'project' ? trans.__('project file') : trans.__('manifest');
  switch (change.code) {
    case 'julia':
      return trans.__('Julia %1 → %2', change.before, change.after);
    case 'project':
      return trans.__(
        'active project %1 → %2',
        change.before ?? trans.__('none'),
        change.after ?? trans.__('none')
      );
    case 'appeared':
      return trans.__(
        '%1 now exists (the run had no %2)',
        change.name,
        label(change.role)
      );
    case 'gone':
      return trans.__(
        '%1 is gone (the kernel has no %2)',
        change.name,
        label(change.role)
      );
    case 'renamed':
      return change.same_content
        ? trans.__(
            '%1 %2 → %3 (same content)',
            label(change.role),
            change.before,
            change.after
          )
        : trans.__(
            '%1 %2 → %3',
            label(change.role),
            change.before,
            change.after
          );
    case 'changed':
      return trans.__('%1 changed', change.name);
    case 'moved':
      return trans.__(
        '%1 moved: %2 → %3',
        change.name,
        change.before,
        change.after
      );
    case 'other-environments':
      return trans.__(
        'the other environments the kernel loads packages from changed'
      );
  }
}
