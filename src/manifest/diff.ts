/**
 * Package-level comparison of two manifests, and of two runs (Julia version, git,
 * Project deps and packages), for the sidebar's "compare two runs" table.
 */
import { IManifest, IManifestPackage, IProject } from './parse';
import { compareVersions, parseVersion } from './version';

/** How a package differs between two manifests, in the order the table lists them. */
export const CHANGE_KINDS = [
  'added',
  'removed',
  'upgraded',
  'downgraded',
  'source-changed'
] as const;

/** One of CHANGE_KINDS. */
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** One row of the package diff. */
export interface IPackageChange {
  name: string;
  uuid: string;
  kind: ChangeKind;
  /** null when added, or for an entry without a version (an older stdlib). */
  before_version: string | null;
  after_version: string | null;
  /**
   * Where the package comes from changed: repo-url, repo-rev or path differ, or (at the
   * same version) git-tree-sha1. Always true for 'source-changed'; may be true for
   * 'upgraded'/'downgraded' (a new git-tree-sha1 alone does not count there: every new
   * version of a registered package has one).
   */
  source_changed: boolean;
  /**
   * What the versions do not tell, one short human-readable line each: where an added
   * or removed package comes from ("stdlib", "path …", "repo-url … (rev)"; nothing for
   * a registered one), "breaking version change", the changed source fields
   * ("git-tree-sha1: 15b7b307b7 → 29809972ab", "repo-url: … → …").
   */
  details: string[];
}

/** One side of a run comparison. */
export interface IRunEnvironment {
  julia_version: string | null;
  git_sha: string | null;
  git_dirty: boolean | null;
  project: IProject | null;
  manifest: IManifest | null;
}

/** Two values of one field, and whether they differ. */
export interface IChange<T> {
  before: T;
  after: T;
  changed: boolean;
}

/** Which way a version moved (Julia's ordering, see version.ts). */
export type VersionDirection = 'same' | 'upgraded' | 'downgraded';

/** The changes of one kind, direct dependencies apart from transitive ones. */
export interface IChangeGroup {
  kind: ChangeKind;
  /** Packages named (by UUID) in the `[deps]` of either run's Project.toml. */
  direct: IPackageChange[];
  /** The others: dependencies of dependencies (all of them when no project is known). */
  transitive: IPackageChange[];
}

/** The comparison of two runs (`before` is the first argument of compareRuns). */
export interface IRunComparison {
  julia: IChange<string | null>;
  /** Which way Julia moved ('same' when unknown on either side). */
  julia_direction: VersionDirection;
  /** The manifests' format ('1.0', '2.0'); changed only when both runs have one. */
  manifest_format: IChange<string | null>;
  git: {
    before_sha: string | null;
    after_sha: string | null;
    before_dirty: boolean | null;
    after_dirty: boolean | null;
    /** The SHA or the dirty flag differ (two dirty trees at one SHA count as equal). */
    changed: boolean;
  };
  /** Project `[deps]` names, sorted; a name whose uuid changed is in both lists. */
  project_deps: { added: string[]; removed: string[] };
  /**
   * Whether both runs have a manifest. When not, `packages` is empty and every count
   * is 0: there is nothing to compare against (not "everything was added").
   */
  packages_compared: boolean;
  packages: IPackageChange[];
  counts: Record<ChangeKind, number>;
  /** `packages` by kind (CHANGE_KINDS order; kinds without a change left out). */
  groups: IChangeGroup[];
  /** Whether a Project.toml of either run was read, so that direct dependencies are known. */
  direct_known: boolean;
}

/**
 * The package changes from `before` to `after`, matched by UUID (two packages with
 * one name and different UUIDs are two packages). The kind follows the version when
 * it changes, with `source_changed` telling whether the source (repo-url, repo-rev,
 * path) changed too; a change of source alone, or of git-tree-sha1 at the same
 * version, is 'source-changed'. An entry without a version (a stdlib before
 * Julia 1.11) counts as older than any version. Unchanged packages are left out. Sorted
 * by kind (CHANGE_KINDS order), then by name, then by UUID.
 */
export function diffManifests(
  before: IManifest,
  after: IManifest
): IPackageChange[] {
  const old = new Map<string, IManifestPackage>();
  for (const p of before.packages) {
    old.set(p.uuid, p);
  }
  const changes: IPackageChange[] = [];
  const seen = new Set<string>();
  for (const b of after.packages) {
    seen.add(b.uuid);
    const a = old.get(b.uuid);
    if (a === undefined) {
      changes.push(change(b, 'added', null, b.version, false, describe(b)));
      continue;
    }
    const details: string[] = [];
    const order = compareOptionalVersions(a.version, b.version);
    if (a.version === null || b.version === null) {
      if (order !== 0) {
        details.push(
          a.version === null ? 'no version before' : 'no version now'
        );
      }
    } else if (order !== 0 && isBreaking(a.version, b.version)) {
      details.push('breaking version change');
    }
    const sourceDetails = sourceChanges(a, b, order === 0);
    details.push(...sourceDetails);
    const sourceChanged = sourceDetails.length > 0;
    if (order === 0 && !sourceChanged) {
      continue;
    }
    const kind: ChangeKind =
      order < 0 ? 'upgraded' : order > 0 ? 'downgraded' : 'source-changed';
    changes.push(change(b, kind, a.version, b.version, sourceChanged, details));
  }
  for (const a of before.packages) {
    if (!seen.has(a.uuid)) {
      seen.add(a.uuid);
      changes.push(change(a, 'removed', a.version, null, false, describe(a)));
    }
  }
  return changes.sort(byKindThenName);
}

/** Compare two runs: Julia, git, Project deps and (when both have one) manifests. */
export function compareRuns(
  before: IRunEnvironment,
  after: IRunEnvironment
): IRunComparison {
  const packagesCompared = before.manifest !== null && after.manifest !== null;
  const packages =
    before.manifest !== null && after.manifest !== null
      ? diffManifests(before.manifest, after.manifest)
      : [];
  const counts = Object.fromEntries(CHANGE_KINDS.map(k => [k, 0])) as Record<
    ChangeKind,
    number
  >;
  for (const p of packages) {
    counts[p.kind]++;
  }
  const formats = pair(
    before.manifest?.format ?? null,
    after.manifest?.format ?? null
  );
  formats.changed = packagesCompared && formats.changed;
  return {
    julia: pair(before.julia_version, after.julia_version),
    julia_direction: versionDirection(
      before.julia_version,
      after.julia_version
    ),
    manifest_format: formats,
    git: {
      before_sha: before.git_sha,
      after_sha: after.git_sha,
      before_dirty: before.git_dirty,
      after_dirty: after.git_dirty,
      changed:
        before.git_sha !== after.git_sha || before.git_dirty !== after.git_dirty
    },
    project_deps: projectDeps(before.project, after.project),
    packages_compared: packagesCompared,
    packages,
    counts,
    groups: groupChanges(packages, [before.project, after.project]),
    direct_known: before.project !== null || after.project !== null
  };
}

/**
 * Group package changes by kind (CHANGE_KINDS order, empty kinds left out), each kind's
 * direct dependencies (named by UUID in the `[deps]` of any of `projects`) apart from
 * the transitive ones. The order within a group is that of `changes`.
 */
export function groupChanges(
  changes: IPackageChange[],
  projects: (IProject | null)[]
): IChangeGroup[] {
  const direct = new Set<string>();
  for (const project of projects) {
    for (const uuid of Object.values(project?.deps ?? {})) {
      direct.add(uuid);
    }
  }
  const groups: IChangeGroup[] = [];
  for (const kind of CHANGE_KINDS) {
    const ofKind = changes.filter(c => c.kind === kind);
    if (ofKind.length) {
      groups.push({
        kind,
        direct: ofKind.filter(c => direct.has(c.uuid)),
        transitive: ofKind.filter(c => !direct.has(c.uuid))
      });
    }
  }
  return groups;
}

/**
 * Which way a version moved, in Julia's ordering (1.10.0-rc1 < 1.10.0 < 1.10.0+0 <
 * 1.10.1); 'same' when either is unknown.
 */
export function versionDirection(
  before: string | null,
  after: string | null
): VersionDirection {
  if (before === null || after === null) {
    return 'same';
  }
  const order = compareVersions(before, after);
  return order < 0 ? 'upgraded' : order > 0 ? 'downgraded' : 'same';
}

function change(
  p: IManifestPackage,
  kind: ChangeKind,
  beforeVersion: string | null,
  afterVersion: string | null,
  sourceChanged: boolean,
  details: string[]
): IPackageChange {
  return {
    name: p.name,
    uuid: p.uuid,
    kind,
    before_version: beforeVersion,
    after_version: afterVersion,
    source_changed: sourceChanged,
    details
  };
}

/** Where an added or removed entry comes from, unless from a registry (nothing to say). */
function describe(p: IManifestPackage): string[] {
  if (p.path !== null) {
    return [`path ${p.path}`];
  }
  if (p.repo_url !== null) {
    return [
      p.repo_rev === null
        ? `repo-url ${p.repo_url}`
        : `repo-url ${p.repo_url} (${p.repo_rev})`
    ];
  }
  return p.is_stdlib ? ['stdlib'] : [];
}

const SOURCE_FIELDS: [keyof IManifestPackage, string][] = [
  ['git_tree_sha1', 'git-tree-sha1'],
  ['repo_url', 'repo-url'],
  ['repo_rev', 'repo-rev'],
  ['path', 'path']
];

/**
 * The differences of source. A new git-tree-sha1 comes with every new version of a
 * registered package, so it counts only when the version is the same (`sameVersion`).
 */
function sourceChanges(
  a: IManifestPackage,
  b: IManifestPackage,
  sameVersion: boolean
): string[] {
  const out: string[] = [];
  for (const [field, label] of SOURCE_FIELDS) {
    if (field === 'git_tree_sha1' && !sameVersion) {
      continue;
    }
    const x = a[field] as string | null;
    const y = b[field] as string | null;
    if (x === y) {
      continue;
    }
    const show = (v: string | null) =>
      v === null ? 'none' : field === 'git_tree_sha1' ? v.slice(0, 10) : v;
    out.push(`${label}: ${show(x)} → ${show(y)}`);
  }
  return out;
}

/**
 * Whether two versions fall in different compat bands (Julia's caret rule: the
 * components up to the first non-zero one must be equal), i.e. one is a breaking
 * release with respect to the other: 0.21.4 → 1.4.0, 0.8.3 → 0.9.0, 0.0.1 → 0.0.2.
 */
function isBreaking(a: string, b: string): boolean {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (x === null || y === null) {
    return false;
  }
  if (x.major !== y.major) {
    return true;
  }
  if (x.major > 0) {
    return false;
  }
  if (x.minor !== y.minor) {
    return true;
  }
  return x.minor === 0 && x.patch !== y.patch;
}

function compareOptionalVersions(a: string | null, b: string | null): number {
  if (a === null || b === null) {
    return a === b ? 0 : a === null ? -1 : 1;
  }
  return compareVersions(a, b);
}

function byKindThenName(a: IPackageChange, b: IPackageChange): number {
  return (
    CHANGE_KINDS.indexOf(a.kind) - CHANGE_KINDS.indexOf(b.kind) ||
    compareText(a.name.toLowerCase(), b.name.toLowerCase()) ||
    compareText(a.name, b.name) ||
    compareText(a.uuid, b.uuid)
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function pair<T>(before: T, after: T): IChange<T> {
  return { before, after, changed: before !== after };
}

function projectDeps(
  before: IProject | null,
  after: IProject | null
): IRunComparison['project_deps'] {
  const a = before?.deps ?? {};
  const b = after?.deps ?? {};
  const same = (n: string) =>
    Object.hasOwn(a, n) && Object.hasOwn(b, n) && a[n] === b[n];
  const added = Object.keys(b).filter(n => !same(n));
  const removed = Object.keys(a).filter(n => !same(n));
  return { added: added.sort(compareText), removed: removed.sort(compareText) };
}
