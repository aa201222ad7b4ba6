/**
 * Which installed kernelspec runs the Julia a run was captured with.
 *
 * IJulia names its kernelspecs `<name>-X.Y` (`-debug` appended for a debug build of
 * Julia, other characters than `[0-9a-z_.-]` turned into `_`): `julia-1.10`,
 * `julia-4-threads-1.9`, `julia-1.11-debug`. Its display names were `Julia 1.5.3`
 * (the full version) until IJulia 1.2x and are `Julia 1.11` (major.minor) since; a
 * custom `installkernel("Julia O3")` gives `Julia O3 1.10.4`. The name decides; the
 * display name is the fallback; the started kernel's language_info confirms it later.
 *
 * Among kernelspecs that fit the version equally well, the one that starts its kernel
 * most like the recorded kernelspec wins (same `--project`, threads, Julia options,
 * JULIA_* env: kernelspecAffinity), then the recorded name.
 */
import { IKernelspecRecord, kernelspecAffinity } from '../kernel/kernelspec';

/** What matching needs of a kernelspec (KernelSpec.ISpecModel). */
export interface ISpecLike {
  name: string;
  display_name: string;
  language: string;
  argv?: readonly unknown[];
  env?: Record<string, unknown> | null;
}

/** How well a kernelspec fits the captured Julia version. */
export type SpecFit =
  /** Same major.minor (and the same patch when the display name tells it). */
  | 'exact'
  /** Same major.minor; the display name tells a different patch release. */
  | 'patch'
  /** Same major.minor, from the display name only (the name tells nothing). */
  | 'minor'
  /** A Julia kernelspec of another major.minor. */
  | 'other'
  /** A Julia kernelspec whose version cannot be told. */
  | 'unknown';

export interface ISpecMatch {
  spec: ISpecLike;
  fit: SpecFit;
  /** The version the kernelspec states ("1.10" or "1.10.4"), null when none. */
  version: string | null;
  debug: boolean;
  /** kernelspecAffinity with the recorded kernelspec; 0 when none was recorded. */
  affinity: number;
}

const RANK: SpecFit[] = ['exact', 'patch', 'minor', 'other', 'unknown'];
const NAME = /-(\d+)\.(\d+)(-debug)?$/;
/** Version-like words of a display name; the last one counts ("Julia O3 1.10.4"). */
const DISPLAY = /\b(\d+)\.(\d+)(?:\.(\d+))?\b/g;

/**
 * The Julia kernelspecs, best fit first: by the Julia version, then (when the run
 * recorded its kernelspec) by how alike they start the kernel, then the recorded name;
 * remaining ties keep a release before a debug build.
 */
export function matchKernelspecs(
  specs: ISpecLike[],
  juliaVersion: string,
  recorded: IKernelspecRecord | null = null
): ISpecMatch[] {
  const want = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(juliaVersion.trim());
  const matches = specs
    .filter(s => s.language.toLowerCase() === 'julia')
    .map(spec => ({
      ...fit(spec, want),
      affinity: recorded ? kernelspecAffinity(recorded, spec) : 0
    }));
  const isRecorded = (m: ISpecMatch) => Number(m.spec.name === recorded?.name);
  return matches.sort(
    (a, b) =>
      RANK.indexOf(a.fit) - RANK.indexOf(b.fit) ||
      b.affinity - a.affinity ||
      isRecorded(b) - isRecorded(a) ||
      Number(a.debug) - Number(b.debug) ||
      a.spec.name.localeCompare(b.spec.name)
  );
}

/** The kernelspec to preselect: the best fit when it has the captured major.minor. */
export function bestKernelspec(matches: ISpecMatch[]): ISpecMatch | null {
  const best = matches[0];
  return best && ['exact', 'patch', 'minor'].includes(best.fit) ? best : null;
}

/** major.minor of a version string ("1.10.4" → "1.10"), null when none. */
export function minorOf(version: string): string | null {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  return m ? `${m[1]}.${m[2]}` : null;
}

function fit(
  spec: ISpecLike,
  want: RegExpExecArray | null
): Omit<ISpecMatch, 'affinity'> {
  const byName = NAME.exec(spec.name);
  const byDisplay = [...spec.display_name.matchAll(DISPLAY)].pop();
  const debug = Boolean(byName?.[3]) || /\bdebug\b/i.test(spec.display_name);
  if (!byName && !byDisplay) {
    return { spec, fit: 'unknown', version: null, debug };
  }
  const [major, minor] = byName
    ? [byName[1], byName[2]]
    : [byDisplay![1], byDisplay![2]];
  // The display name's patch counts only when it agrees with the name's major.minor.
  const patch =
    byDisplay && byDisplay[1] === major && byDisplay[2] === minor
      ? byDisplay[3]
      : undefined;
  const version = `${major}.${minor}${patch !== undefined ? `.${patch}` : ''}`;
  if (!want || want[1] !== major || want[2] !== minor) {
    return { spec, fit: 'other', version, debug };
  }
  if (patch !== undefined && want[3] !== undefined && patch !== want[3]) {
    return { spec, fit: 'patch', version, debug };
  }
  return { spec, fit: byName ? 'exact' : 'minor', version, debug };
}
