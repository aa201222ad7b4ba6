/**
 * Parsing of Julia's Project.toml and Manifest.toml (both manifest layouts) with a TOML
 * library, into the small structures the history sidebar compares and searches.
 */
import { parse, TomlError } from 'smol-toml';

/** One entry of a manifest: a package at one version from one source. */
export interface IManifestPackage {
  name: string;
  uuid: string;
  /** null for stdlibs in manifests before Julia 1.11 (and a few entries such as SuiteSparse). */
  version: string | null;
  git_tree_sha1: string | null;
  repo_url: string | null;
  repo_rev: string | null;
  /** A `Pkg.develop`ed or workspace package; "." is the project itself. */
  path: string | null;
  /** Names of the direct dependencies (a `deps` list, or the keys of a `deps` table). */
  deps: string[];
  /**
   * A standard library, as far as the manifest tells: no git-tree-sha1, no path and no
   * repo-url. Such an entry comes with Julia itself. Before Julia 1.11 stdlibs also
   * have no `version`; from 1.11 on Pkg records the stdlib's version, so `version` is
   * not part of the test. (An upgradable stdlib installed from the registry has a
   * git-tree-sha1 and is therefore not counted as one.)
   */
  is_stdlib: boolean;
}

/** A parsed Manifest.toml. */
export interface IManifest {
  /** '1.0': the old layout without `manifest_format` (top-level `[[Name]]` arrays). */
  format: '1.0' | '2.0';
  /** Absent from v1 manifests. */
  julia_version: string | null;
  /** Absent from v1 manifests and from those written by Julia 1.7 to 1.9. */
  project_hash: string | null;
  /** In file order. Two entries may share a name (different UUIDs). */
  packages: IManifestPackage[];
}

/** Where a Project's `[sources]` entry takes a package from. */
export interface IProjectSource {
  url?: string;
  rev?: string;
  path?: string;
  subdir?: string;
}

/** A parsed Project.toml (the parts the sidebar uses). */
export interface IProject {
  name: string | null;
  uuid: string | null;
  version: string | null;
  /** name -> uuid */
  deps: Record<string, string>;
  /** name -> compat specification */
  compat: Record<string, string>;
  /** name -> source */
  sources: Record<string, IProjectSource>;
  /** `[workspace] projects` (Julia 1.12 workspaces), relative paths. */
  workspace_projects: string[];
}

/** A Project or Manifest that is not valid TOML, or not shaped as Pkg writes it. */
export class ManifestParseError extends Error {
  /** 1-based position of a TOML syntax error, null for a structural problem. */
  readonly line: number | null;
  readonly column: number | null;

  constructor(
    message: string,
    line: number | null = null,
    column: number | null = null
  ) {
    super(message);
    this.name = 'ManifestParseError';
    this.line = line;
    this.column = column;
  }
}

type Table = Record<string, unknown>;

/**
 * Decode file bytes as UTF-8 and drop a leading byte order mark. Invalid sequences
 * become U+FFFD (the TOML parser then reports them if they matter).
 */
export function decodeText(bytes: Uint8Array): string {
  // TextDecoder strips the BOM by default (ignoreBOM: false).
  return new TextDecoder('utf-8').decode(bytes);
}

/**
 * Parse a Manifest.toml of either layout: format 2.0 (`manifest_format = "2.0"`, entries
 * under `[[deps.Name]]`) or the old one (no `manifest_format`, entries as top-level
 * `[[Name]]` arrays). `weakdeps`, `extensions` and other keys are accepted and ignored.
 *
 * @throws ManifestParseError on invalid TOML (with the line and column) or on an entry
 *   that is not shaped as Pkg writes it.
 */
export function parseManifest(text: string): IManifest {
  const doc = parseToml(text, 'Manifest');
  const rawFormat = doc.manifest_format ?? '1.0';
  if (typeof rawFormat !== 'string') {
    throw new ManifestParseError('Manifest: manifest_format is not a string');
  }
  let format: IManifest['format'];
  let entries: [string, unknown][];
  const major = rawFormat.split('.')[0];
  if (major === '1') {
    // The old layout: every top-level array of tables is a package name.
    format = '1.0';
    entries = Object.entries(doc).filter(([, value]) => Array.isArray(value));
  } else if (major === '2') {
    format = '2.0';
    const deps = doc.deps ?? {};
    if (!isTable(deps)) {
      throw new ManifestParseError('Manifest: [deps] is not a table');
    }
    entries = Object.entries(deps);
  } else {
    throw new ManifestParseError(
      `Manifest: manifest_format ${JSON.stringify(rawFormat)} is not supported (1.0 and 2.0 are)`
    );
  }
  const packages: IManifestPackage[] = [];
  for (const [name, list] of entries) {
    if (!Array.isArray(list)) {
      throw new ManifestParseError(
        `Manifest: deps.${name} is not a list of entries ([[deps.${name}]])`
      );
    }
    for (const entry of list) {
      packages.push(toPackage(name, entry));
    }
  }
  return {
    format,
    julia_version: optionalString(doc, 'julia_version', 'Manifest'),
    project_hash: optionalString(doc, 'project_hash', 'Manifest'),
    packages
  };
}

/**
 * Parse a Project.toml (or JuliaProject.toml). Every field is optional, as in Pkg.
 *
 * @throws ManifestParseError on invalid TOML or a field of the wrong type.
 */
export function parseProject(text: string): IProject {
  const doc = parseToml(text, 'Project');
  const sources: Record<string, IProjectSource> = {};
  for (const [name, value] of Object.entries(tableAt(doc, 'sources'))) {
    if (!isTable(value)) {
      throw new ManifestParseError(`Project: sources.${name} is not a table`);
    }
    const source: IProjectSource = {};
    for (const key of ['url', 'rev', 'path', 'subdir'] as const) {
      const v = optionalString(value, key, `Project: sources.${name}`);
      if (v !== null) {
        source[key] = v;
      }
    }
    put(sources, name, source);
  }
  const workspace = tableAt(doc, 'workspace');
  const projects = workspace.projects ?? [];
  if (!Array.isArray(projects) || !projects.every(p => typeof p === 'string')) {
    throw new ManifestParseError(
      'Project: workspace.projects is not a list of strings'
    );
  }
  return {
    name: optionalString(doc, 'name', 'Project'),
    uuid: optionalString(doc, 'uuid', 'Project'),
    version: optionalString(doc, 'version', 'Project'),
    deps: stringTable(doc, 'deps'),
    compat: stringTable(doc, 'compat'),
    sources,
    workspace_projects: projects as string[]
  };
}

function parseToml(text: string, what: string): Table {
  try {
    return parse(text) as Table;
  } catch (error) {
    if (error instanceof TomlError) {
      const first = error.message.split('\n')[0];
      throw new ManifestParseError(
        `${what} is not valid TOML (line ${error.line}, column ${error.column}): ${first}`,
        error.line,
        error.column
      );
    }
    throw error;
  }
}

function toPackage(name: string, entry: unknown): IManifestPackage {
  const where = `Manifest: ${name}`;
  if (!isTable(entry)) {
    throw new ManifestParseError(`${where}: an entry is not a table`);
  }
  const uuid = optionalString(entry, 'uuid', where);
  if (uuid === null) {
    throw new ManifestParseError(`${where}: an entry has no uuid`);
  }
  const version = optionalString(entry, 'version', where);
  const git_tree_sha1 = optionalString(entry, 'git-tree-sha1', where);
  const repo_url = optionalString(entry, 'repo-url', where);
  const repo_rev = optionalString(entry, 'repo-rev', where);
  const path = optionalString(entry, 'path', where);
  let deps: string[];
  const raw = entry.deps;
  if (raw === undefined) {
    deps = [];
  } else if (Array.isArray(raw) && raw.every(d => typeof d === 'string')) {
    deps = raw as string[];
  } else if (isTable(raw)) {
    // Pkg writes a name -> uuid table when a dependency's name is ambiguous.
    deps = Object.keys(raw);
  } else {
    throw new ManifestParseError(
      `${where}: deps is neither a list of names nor a table`
    );
  }
  return {
    name,
    uuid,
    version,
    git_tree_sha1,
    repo_url,
    repo_rev,
    path,
    deps,
    is_stdlib: git_tree_sha1 === null && path === null && repo_url === null
  };
}

/** Set an own property, even one named `__proto__` (a valid Julia name). */
function put<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true
  });
}

function isTable(value: unknown): value is Table {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function optionalString(
  table: Table,
  key: string,
  where: string
): string | null {
  const value = table[key];
  if (value === undefined) {
    return null;
  }
  if (typeof value !== 'string') {
    throw new ManifestParseError(`${where}: ${key} is not a string`);
  }
  return value;
}

function tableAt(doc: Table, key: string): Table {
  const value = doc[key];
  if (value === undefined) {
    return {};
  }
  if (!isTable(value)) {
    throw new ManifestParseError(`Project: [${key}] is not a table`);
  }
  return value;
}

function stringTable(doc: Table, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(tableAt(doc, key))) {
    if (typeof value !== 'string') {
      throw new ManifestParseError(`Project: ${key}.${name} is not a string`);
    }
    put(out, name, value);
  }
  return out;
}
