/**
 * Julia's `[compat]` semantics, as Pkg implements them (Pkg's src/Versions.jl, the same
 * from Julia 1.5 to 1.12): a specifier such as "1.2, 0.5", "^0.3", "~1.2.3", "= 0.9.35",
 * ">= 1.6", "≥ 1.6", "< 2" or "0.7 - 1.3" is a list of version ranges, each bounded by
 * version prefixes (`VersionBound`); a version is in a range when its major, minor and
 * patch fall between the bounds (a prerelease or build suffix is not looked at).
 * Printing a specifier gives Pkg's normalized text, which the manifest's `project_hash`
 * is computed from.
 */
import { parseVersion } from './version';

/** A version prefix: `n` leading components of `t` count (n = 0: unbounded). */
export interface IVersionBound {
  readonly t: readonly [number, number, number];
  readonly n: 0 | 1 | 2 | 3;
}

/** Versions from `lower` to `upper`, both inclusive as prefixes. */
export interface IVersionRange {
  readonly lower: IVersionBound;
  readonly upper: IVersionBound;
}

/** A `[compat]` specifier: the union of its ranges, sorted and joined as Pkg does. */
export interface IVersionSpec {
  readonly ranges: readonly IVersionRange[];
}

/**
 * How Pkg prints a range between two bounds: "1.2.0-1", "1.2.0-*" up to Julia 1.10;
 * "1.2.0 - 1", "1.2.0 - *" from Julia 1.11 on.
 */
export type RangeStyle = 'dash' | 'spaced';

/**
 * Parse a `[compat]` value as Pkg's `semver_spec` does; null where Pkg raises an error
 * (it then refuses the whole Project.toml).
 */
export function semverSpec(text: string): IVersionSpec | null {
  const ranges: IVersionRange[] = [];
  for (const part of text.trim().split(',')) {
    const range = Private.parseRange(part.trim());
    if (range === null) {
      return null;
    }
    ranges.push(range);
  }
  return { ranges: Private.union(ranges) };
}

/**
 * Whether a version (text as in a manifest, "1.2.3", "1.2.3+0", "v1.2") satisfies a
 * specifier; false when the text is not a version number.
 */
export function specContains(spec: IVersionSpec, version: string): boolean {
  const v = parseVersion(version);
  if (v === null) {
    return false;
  }
  const t: [number, number, number] = [v.major, v.minor, v.patch];
  return spec.ranges.some(
    r => Private.boundBelow(r.lower, t) && Private.boundAbove(r.upper, t)
  );
}

/** The specifier as Pkg prints it (`print(io, ::VersionSpec)`). */
export function formatSpec(spec: IVersionSpec, style: RangeStyle): string {
  if (spec.ranges.length === 0) {
    return '\u2205';
  }
  const ranges = spec.ranges.map(r => Private.formatRange(r, style));
  return ranges.length === 1 ? ranges[0] : `[${ranges.join(', ')}]`;
}

/** The versions in both (`intersect(::VersionSpec, ::VersionSpec)`). */
export function intersectSpecs(a: IVersionSpec, b: IVersionSpec): IVersionSpec {
  if (a.ranges.length === 0 || b.ranges.length === 0) {
    return { ranges: [] };
  }
  const ranges: IVersionRange[] = [];
  for (const x of a.ranges) {
    for (const y of b.ranges) {
      ranges.push(Private.intersectRanges(x, y));
    }
  }
  return { ranges: Private.union(ranges) };
}

/** Every version: what Pkg assumes for a dependency without a `[compat]` entry. */
export const ANY_VERSION: IVersionSpec = {
  ranges: [{ lower: { t: [0, 0, 0], n: 0 }, upper: { t: [0, 0, 0], n: 0 } }]
};

namespace Private {
  type Bound = IVersionBound;
  type Triple = readonly [number, number, number];

  export function bound(...parts: number[]): Bound {
    const t: [number, number, number] = [
      parts[0] ?? 0,
      parts[1] ?? 0,
      parts[2] ?? 0
    ];
    return { t, n: parts.length as Bound['n'] };
  }

  /** `VersionRange(lo, hi)`: bounds naming the same version become the upper one. */
  export function range(lower: Bound, upper: Bound): IVersionRange {
    return sameTriple(lower.t, upper.t)
      ? { lower: upper, upper }
      : { lower, upper };
  }

  function sameTriple(a: Triple, b: Triple): boolean {
    return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
  }

  function sameBound(a: Bound, b: Bound): boolean {
    return a.n === b.n && sameTriple(a.t, b.t);
  }

  /** `b ≲ v`: the version is at or above a lower bound. */
  export function boundBelow(b: Bound, v: Triple): boolean {
    return compareTuples(v, b.t, b.n) >= 0;
  }

  /** `v ≲ b`: the version is at or below an upper bound. */
  export function boundAbove(b: Bound, v: Triple): boolean {
    return compareTuples(v, b.t, b.n) <= 0;
  }

  /** Compare the first n components (lexicographically). */
  function compareTuples(a: Triple, b: Triple, n: number): number {
    for (let i = 0; i < n; i++) {
      if (a[i] !== b[i]) {
        return a[i] < b[i] ? -1 : 1;
      }
    }
    return 0;
  }

  function islessLower(a: Bound, b: Bound): boolean {
    for (let i = 0; i < Math.min(a.n, b.n); i++) {
      if (a.t[i] !== b.t[i]) {
        return a.t[i] < b.t[i];
      }
    }
    return a.n < b.n;
  }

  function islessUpper(a: Bound, b: Bound): boolean {
    for (let i = 0; i < Math.min(a.n, b.n); i++) {
      if (a.t[i] !== b.t[i]) {
        return a.t[i] < b.t[i];
      }
    }
    return a.n > b.n;
  }

  function isEmpty(r: IVersionRange): boolean {
    for (let i = 0; i < Math.min(r.lower.n, r.upper.n); i++) {
      if (r.lower.t[i] !== r.upper.t[i]) {
        return r.lower.t[i] > r.upper.t[i];
      }
    }
    return false;
  }

  /** Whether an upper bound reaches the next range's lower bound (`isjoinable`). */
  function isJoinable(up: Bound, lo: Bound): boolean {
    if (up.n === 0 && lo.n === 0) {
      return true;
    }
    if (up.n === lo.n) {
      const n = up.n;
      for (let i = 0; i < n - 1; i++) {
        if (up.t[i] !== lo.t[i]) {
          return up.t[i] > lo.t[i];
        }
      }
      return !(up.t[n - 1] < lo.t[n - 1] - 1);
    }
    for (let i = 0; i < Math.min(up.n, lo.n); i++) {
      if (up.t[i] !== lo.t[i]) {
        return up.t[i] > lo.t[i];
      }
    }
    return true;
  }

  export function intersectRanges(
    a: IVersionRange,
    b: IVersionRange
  ): IVersionRange {
    const lower = islessLower(a.lower, b.lower) ? b.lower : a.lower;
    const upper = islessUpper(a.upper, b.upper) ? a.upper : b.upper;
    return range(lower, upper);
  }

  /** `union!(ranges)`: sorted, empty ones dropped, overlapping or adjacent ones joined. */
  export function union(input: IVersionRange[]): IVersionRange[] {
    const ranges = [...input].sort((a, b) => {
      const lt = (x: IVersionRange, y: IVersionRange) =>
        islessLower(x.lower, y.lower) ||
        (sameBound(x.lower, y.lower) && islessUpper(x.upper, y.upper));
      return lt(a, b) ? -1 : lt(b, a) ? 1 : 0;
    });
    const out: IVersionRange[] = [];
    const first = ranges.findIndex(r => !isEmpty(r));
    if (first < 0) {
      return out;
    }
    let lo = ranges[first].lower;
    let up = ranges[first].upper;
    for (const r of ranges.slice(first + 1)) {
      if (isEmpty(r)) {
        continue;
      }
      if (isJoinable(up, r.lower)) {
        if (islessUpper(up, r.upper)) {
          up = r.upper;
        }
        continue;
      }
      out.push(range(lo, up));
      lo = r.lower;
      up = r.upper;
    }
    const last = range(lo, up);
    if (!isEmpty(last)) {
      out.push(last);
    }
    return out;
  }

  export function formatRange(r: IVersionRange, style: RangeStyle): string {
    const m = r.lower.n;
    const n = r.upper.n;
    if (m === 0 && n === 0) {
      return '*';
    }
    const dash = style === 'dash' ? '-' : ' - ';
    if (m === 0) {
      return `0${dash.trimEnd()}${r.upper.t.join('.')}`;
    }
    if (n === 0) {
      return `${r.lower.t.join('.')}${dash}*`;
    }
    const lower = r.lower.t.slice(0, m).join('.');
    if (sameBound(r.lower, r.upper)) {
      return lower;
    }
    return `${lower}${dash}${r.upper.t.slice(0, n).join('.')}`;
  }

  // Pkg's three patterns. Julia's regexes match Unicode whitespace for \s, as the `u`
  // flag does here; the lazy digit groups are anchored, so they take whole numbers.
  const VERSION = 'v?([0-9]+?)(?:\\.([0-9]+?))?(?:\\.([0-9]+?))?';
  const SEMVER = new RegExp(`^([~^]?)?${VERSION}$`, 'u');
  const INEQUALITY = new RegExp(
    `^((?:≥\\s*)|(?:>=\\s*)|(?:=\\s*)|(?:<\\s*)|(?:=\\s*))v?${VERSION}$`,
    'u'
  );
  const HYPHEN = new RegExp(
    `^[\\s]*${VERSION}[\\s]*?\\s-\\s[\\s]*?${VERSION}[\\s]*$`,
    'u'
  );

  /** Numbers of the given components (undefined: absent); null past 2^32 - 1. */
  function numbers(parts: (string | undefined)[]): number[] | null {
    const out: number[] = [];
    for (const p of parts) {
      if (p === undefined) {
        break;
      }
      const value = Number(p);
      if (value > 0xffffffff) {
        return null; // Pkg's VersionBound holds UInt32 components
      }
      out.push(value);
    }
    return out;
  }

  export function parseRange(text: string): IVersionRange | null {
    let m = SEMVER.exec(text);
    if (m) {
      return semverInterval(m[1] ?? '', numbers([m[2], m[3], m[4]]));
    }
    m = INEQUALITY.exec(text);
    if (m) {
      return inequalityInterval(m[1], numbers([m[2], m[3], m[4]]));
    }
    m = HYPHEN.exec(text);
    if (m) {
      const lower = numbers([m[1], m[2], m[3]]);
      const upper = numbers([m[4], m[5], m[6]]);
      return lower && upper ? range(bound(...lower), bound(...upper)) : null;
    }
    return null;
  }

  function semverInterval(
    type: string,
    parts: number[] | null
  ): IVersionRange | null {
    if (parts === null) {
      return null;
    }
    const significant = parts.length;
    const [major, minor = 0, patch = 0] = parts;
    if (significant === 3 && major === 0 && minor === 0 && patch === 0) {
      return null; // "invalid version: 0.0.0"
    }
    const v0 = bound(major, minor, patch);
    if (type === '' || type === '^') {
      if (major !== 0) {
        return range(v0, bound(major));
      }
      if (minor !== 0) {
        return range(v0, bound(major, minor));
      }
      if (significant === 1) {
        return range(v0, bound(0));
      }
      if (significant === 2) {
        return range(v0, bound(0, 0));
      }
      return range(v0, bound(0, 0, patch));
    }
    return significant >= 2
      ? range(v0, bound(major, minor))
      : range(v0, bound(major));
  }

  function inequalityInterval(
    type: string,
    parts: number[] | null
  ): IVersionRange | null {
    if (parts === null) {
      return null;
    }
    const significant = parts.length;
    const [major, minor = 0, patch = 0] = parts;
    if (significant === 3 && major === 0 && minor === 0 && patch === 0) {
      return null;
    }
    const v = bound(major, minor, patch);
    const op = type.trim();
    if (op === '<') {
      let upper: Bound;
      if (patch !== 0) {
        upper = bound(major, minor, patch - 1);
      } else if (minor !== 0) {
        upper = bound(major, minor - 1);
      } else if (major !== 0) {
        upper = bound(major - 1);
      } else {
        return null; // "< 0": Pkg fails on a negative bound
      }
      return range(bound(0, 0, 0), upper);
    }
    if (op === '=') {
      return range(v, v);
    }
    // ">=" or "≥"
    return range(v, bound());
  }
}
