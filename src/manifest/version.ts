/**
 * Julia VersionNumbers: `major.minor.patch`, an optional prerelease (`-rc1`,
 * `-DEV.1234`, `-beta.2`) and an optional build (`+0`), with an optional leading `v`.
 * A missing minor or patch is 0, as in Julia (`v"1.6" == v"1.6.0"`).
 */

/** A parsed version number. */
export interface IVersion {
  major: number;
  minor: number;
  patch: number;
  /** Dot-separated identifiers; numeric ones are numbers. */
  prerelease: (number | string)[];
  build: (number | string)[];
}

const VERSION_RE =
  /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-((?:[0-9A-Za-z-]+\.)*[0-9A-Za-z-]+))?(?:\+((?:[0-9A-Za-z-]+\.)*[0-9A-Za-z-]+))?$/;

/** Parse a version number, or null when `text` is not one. */
export function parseVersion(text: string): IVersion | null {
  const m = VERSION_RE.exec(text.trim());
  if (m === null) {
    return null;
  }
  return {
    major: Number(m[1]),
    minor: m[2] === undefined ? 0 : Number(m[2]),
    patch: m[3] === undefined ? 0 : Number(m[3]),
    prerelease: identifiers(m[4]),
    build: identifiers(m[5])
  };
}

/**
 * Order two version numbers as Julia's `isless` does: by major, minor and patch; a
 * prerelease comes before its release (1.6.0-rc1 < 1.6.0); a build comes after it
 * (1.6.0 < 1.6.0+0). Identifiers compare numerically when numeric, numbers before
 * words. Text that is not a version number sorts after every version, as plain text.
 *
 * @returns negative when a < b, 0 when equal, positive when a > b.
 */
export function compareVersions(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  if (va === null || vb === null) {
    if (va !== null) {
      return -1;
    }
    if (vb !== null) {
      return 1;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const core =
    va.major - vb.major || va.minor - vb.minor || va.patch - vb.patch;
  if (core !== 0) {
    return Math.sign(core);
  }
  // An empty prerelease (a release) sorts after any prerelease.
  if (va.prerelease.length === 0 || vb.prerelease.length === 0) {
    const c = vb.prerelease.length - va.prerelease.length;
    if (c !== 0) {
      return Math.sign(c);
    }
  } else {
    const c = compareIdentifiers(va.prerelease, vb.prerelease);
    if (c !== 0) {
      return c;
    }
  }
  // An empty build sorts before any build.
  return compareIdentifiers(va.build, vb.build);
}

/**
 * Whether `version` starts with the version components given in `prefix`: "1.6"
 * matches 1.6.0, 1.6.12 and 1.6.0-rc1 but not 1.60.0; "1" matches every 1.x; an
 * empty prefix matches every version. A trailing "." in the prefix is ignored (so
 * that a half-typed "1.6." still matches), as is a leading "v" on either side.
 * Components are compared as text, which is exact for the canonical versions Julia
 * writes. Allocates nothing, so it is cheap enough to run per row while filtering.
 */
export function matchesVersionPrefix(version: string, prefix: string): boolean {
  const pStart = prefix.length > 0 && prefix.charCodeAt(0) === V ? 1 : 0;
  let pEnd = prefix.length;
  while (pEnd > pStart && prefix.charCodeAt(pEnd - 1) === DOT) {
    pEnd--;
  }
  const vStart = version.length > 0 && version.charCodeAt(0) === V ? 1 : 0;
  const length = pEnd - pStart;
  if (version.length - vStart < length) {
    return false;
  }
  for (let i = 0; i < length; i++) {
    if (version.charCodeAt(vStart + i) !== prefix.charCodeAt(pStart + i)) {
      return false;
    }
  }
  const next = vStart + length;
  if (length === 0 || next === version.length) {
    return true;
  }
  const c = version.charCodeAt(next);
  return c === DOT || c === DASH || c === PLUS;
}

const V = 'v'.charCodeAt(0);
const DOT = '.'.charCodeAt(0);
const DASH = '-'.charCodeAt(0);
const PLUS = '+'.charCodeAt(0);

function identifiers(text: string | undefined): (number | string)[] {
  if (text === undefined) {
    return [];
  }
  return text.split('.').map(id => (/^\d+$/.test(id) ? Number(id) : id));
}

function compareIdentifiers(
  a: (number | string)[],
  b: (number | string)[]
): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) {
        return x < y ? -1 : 1;
      }
    } else if (typeof x === 'number') {
      return -1;
    } else if (typeof y === 'number') {
      return 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return Math.sign(a.length - b.length);
}
