/**
 * A stale manifest: one that no longer matches its Project.toml, so that
 * `Pkg.instantiate()` stops or installs other versions than the project asks for.
 *
 * - missing: a `[deps]` entry with no manifest entry of its UUID (Pkg.instantiate
 *   refuses: "is a direct dependency, but does not appear in the manifest");
 * - compat: a manifest version outside the project's `[compat]` for that package (or
 *   the manifest's `julia_version` outside `julia`'s), Julia's compat semantics;
 * - project-changed: the manifest's `project_hash` (Julia 1.8 and later write it) is not
 *   the hash of the project's `[deps]`, `[weakdeps]` and `[compat]` as the Julia that
 *   wrote the manifest computes it: the project changed after the manifest was
 *   resolved. This is Pkg's own test (`is_manifest_current`). For a Julia 1.12
 *   workspace the hash covers all its projects: checked when the run recorded them all.
 *
 * `StaleManifests` computes this lazily for the run list, only for the runs it asks
 * about (the rows in view), each run once and each set of files once.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { parse } from 'smol-toml';
import type { IRunDetail, IRunSummary } from '../store/types';
import {
  ANY_VERSION,
  formatSpec,
  intersectSpecs,
  IVersionSpec,
  RangeStyle,
  semverSpec,
  specContains
} from './compat';
import { IManifest, IProject, parseManifest, parseProject } from './parse';
import { parseVersion } from './version';

/** Why a manifest is stale (codes and parameters: views make sentences of them). */
export type StaleReason =
  | { code: 'missing'; name: string; uuid: string }
  | { code: 'compat'; name: string; version: string; compat: string }
  | { code: 'project-changed' };

/** The parts of a Project.toml a resolve depends on. */
export interface IResolveProject extends IProject {
  /** `[weakdeps]`: name -> uuid. */
  weakdeps: Record<string, string>;
}

/** Parse a Project.toml with its `[weakdeps]` (ManifestParseError when invalid). */
export function parseResolveProject(text: string): IResolveProject {
  const project = parseProject(text);
  const weakdeps: Record<string, string> = {};
  const raw = (parse(text) as Record<string, unknown>).weakdeps;
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    for (const [name, uuid] of Object.entries(raw)) {
      if (typeof uuid === 'string') {
        Object.defineProperty(weakdeps, name, {
          value: uuid,
          enumerable: true,
          writable: true,
          configurable: true
        });
      }
    }
  }
  return { ...project, weakdeps };
}

/** A project and where it stands. */
export interface IStaleInput {
  /** The active project. */
  project: IResolveProject;
  manifest: IManifest;
  /**
   * The other projects of its Julia 1.12 workspace ([] when it is in none; the
   * manifest's hash covers them all), or null when it is in one whose other projects
   * were not recorded: then there is no project_hash check.
   */
  workspace: readonly IResolveProject[] | null;
}

/** What makes a manifest stale against its project; [] when it matches. */
export function staleReasons(input: IStaleInput): StaleReason[] {
  const { project, manifest, workspace } = input;
  const reasons: StaleReason[] = [];
  const byUuid = new Map(
    manifest.packages.map(p => [p.uuid.toLowerCase(), p] as const)
  );
  for (const [name, uuid] of Object.entries(project.deps)) {
    if (!byUuid.has(uuid.toLowerCase())) {
      reasons.push({ code: 'missing', name, uuid });
    }
  }
  for (const [name, compat] of Object.entries(project.compat)) {
    const spec = semverSpec(compat);
    if (spec === null) {
      continue; // Pkg refuses such a project; not a question of the manifest
    }
    let version: string | null = null;
    if (name === 'julia') {
      version = manifest.julia_version;
    } else {
      const uuid = own(project.deps, name) ?? own(project.weakdeps, name);
      version = uuid ? (byUuid.get(uuid.toLowerCase())?.version ?? null) : null;
    }
    if (version !== null && !specContains(spec, version)) {
      reasons.push({ code: 'compat', name, version, compat });
    }
  }
  if (
    reasons.length === 0 &&
    workspace !== null &&
    manifest.project_hash !== null
  ) {
    const projects = [project, ...workspace];
    const expected = completeWorkspace(projects)
      ? projectHash(projects, manifest.julia_version)
      : null;
    if (expected !== null && expected !== manifest.project_hash) {
      reasons.push({ code: 'project-changed' });
    }
  }
  return reasons;
}

/** Every project a `[workspace] projects` list names is there. */
function completeWorkspace(projects: readonly IResolveProject[]): boolean {
  const named = projects.reduce((n, p) => n + p.workspace_projects.length, 0);
  return projects.length === 1 + named;
}

/**
 * The manifest's `project_hash` for these projects (the active one, then the rest of
 * its workspace) as the Julia `juliaVersion` writes it: Pkg's `project_resolve_hash`
 * up to 1.11, `workspace_resolve_hash` from 1.12 on. Null for a Julia before 1.8
 * (which writes none) or an unreadable version, for several projects before 1.12, or
 * for a compat entry Pkg would refuse.
 */
export function projectHash(
  projects: readonly IResolveProject[],
  juliaVersion: string | null
): string | null {
  const v = juliaVersion === null ? null : parseVersion(juliaVersion);
  if (v === null || v.major < 1 || (v.major === 1 && v.minor < 8)) {
    return null;
  }
  const style: RangeStyle = v.major === 1 && v.minor < 11 ? 'dash' : 'spaced';
  const specs: Map<string, IVersionSpec>[] = [];
  for (const project of projects) {
    const own = new Map<string, IVersionSpec>();
    for (const [name, text] of Object.entries(project.compat)) {
      const spec = semverSpec(text);
      if (spec === null) {
        return null;
      }
      own.set(name, spec);
    }
    specs.push(own);
  }
  const lines = (entries: [string, string][]) =>
    entries
      .sort(([a], [b]) => byCodePoint(a, b))
      .map(([name, value]) => `${name}=${value}\n`)
      .join('');
  const uuid = (text: string) => text.toLowerCase();
  let text: string;
  if (v.major === 1 && v.minor < 12) {
    if (projects.length !== 1) {
      return null;
    }
    const [project] = projects;
    let deps = Object.entries(project.deps);
    if (v.minor === 11) {
      // Pkg 1.11 leaves out a dependency listed the same in [deps] and [weakdeps].
      deps = deps.filter(
        ([name, id]) => own(project.weakdeps, name)?.toLowerCase() !== uuid(id)
      );
    }
    text =
      lines(deps.map(([name, id]) => [name, uuid(id)])) +
      lines(
        [...specs[0]].map(([name, spec]) => [name, formatSpec(spec, style)])
      );
  } else {
    // Every project's own name and its deps; compat intersected over the projects.
    const deps = new Map<string, string>();
    const weak = new Map<string, string>();
    for (const project of projects) {
      if (project.name !== null && project.uuid !== null) {
        deps.set(project.name, uuid(project.uuid));
      }
      for (const [name, id] of Object.entries(project.deps)) {
        deps.set(name, uuid(id));
      }
      for (const [name, id] of Object.entries(project.weakdeps)) {
        weak.set(name, uuid(id));
      }
    }
    const names = new Set([...deps.keys(), ...weak.keys()]);
    const compat = (name: string) =>
      specs.reduce<IVersionSpec>(
        (spec, own) => intersectSpecs(spec, own.get(name) ?? ANY_VERSION),
        ANY_VERSION
      );
    text =
      lines([...deps]) +
      '\n' +
      lines([...weak]) +
      '\n' +
      lines([...names].map(name => [name, formatSpec(compat(name), style)]));
  }
  return sha1Hex(new TextEncoder().encode(text));
}

/** A record's own value (a Julia name may be `constructor` or `__proto__`). */
function own(record: Record<string, string>, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(record, key)
    ? record[key]
    : undefined;
}

/** Julia sorts names by code point; JavaScript's `<` by UTF-16 unit. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) {
      return d;
    }
  }
  return x.length - y.length;
}

/** Whether a run belongs to a Julia 1.12 workspace (as recorded). */
export function isWorkspaceRun(run: IRunDetail): boolean {
  return (
    (run.capture.workspace_root ?? null) !== null ||
    run.capture.manifest?.found_by === 'workspace' ||
    run.files.some(f => f.role === 'workspace_project')
  );
}

/**
 * The stale reasons of a stored run, its files read through `store` (`manifest`: the
 * one already parsed). None when a file is missing or does not parse.
 */
export async function runStaleness(
  store: { getText(sha256: string): Promise<string | null> },
  run: IRunDetail,
  manifest?: IManifest | null
): Promise<StaleReason[]> {
  const projectFile = run.files.find(f => f.role === 'project');
  const manifestFile = run.files.find(f => f.role === 'manifest');
  if (!projectFile || !manifestFile) {
    return [];
  }
  try {
    const read = async (sha: string) => {
      const text = await store.getText(sha);
      if (text === null) {
        throw new Error(`${sha}: not in the store`);
      }
      return text;
    };
    const project = parseResolveProject(await read(projectFile.sha256));
    manifest ??= parseManifest(await read(manifestFile.sha256));
    const others = run.files.filter(f => f.role === 'workspace_project');
    const workspace =
      others.length > 0
        ? await Promise.all(
            others.map(async f => parseResolveProject(await read(f.sha256)))
          )
        : isWorkspaceRun(run)
          ? null
          : [];
    return staleReasons({ project, manifest, workspace });
  } catch {
    return []; // an unreadable file is not a stale one
  }
}

/**
 * The stale-manifest state of the listed runs, computed when first asked for, in the
 * background, one run at a time (a run's details and its two files from the store);
 * `changed` says when a run asked for turned out stale.
 */
export class StaleManifests {
  constructor(options: StaleManifests.IOptions) {
    this._store = options.store;
  }

  /** Some runs asked for have stale reasons now. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * The reasons of a run's stale manifest: [] when it is not stale (or has no project
   * or manifest), undefined while not known yet (asking starts the computation).
   */
  reasons(run: IRunSummary): readonly StaleReason[] | undefined {
    if (!run.manifest_sha256 || !run.project_sha256) {
      return NONE;
    }
    const known = this._known.get(run.snapshot_id);
    if (known === undefined && !this._queued.has(run.snapshot_id)) {
      this._queued.set(run.snapshot_id, run);
      void this._work();
    }
    return known;
  }

  /** Computations still to do (for tests). */
  get idle(): Promise<void> {
    return this._working ?? Promise.resolve();
  }

  private _work(): Promise<void> {
    this._working ??= (async () => {
      while (this._queued.size > 0) {
        const [key, run] = this._queued.entries().next().value!;
        const reasons = await this._compute(run);
        this._queued.delete(key);
        this._known.set(key, reasons);
        if (reasons.length > 0) {
          this._changed.emit();
        }
      }
    })().finally(() => (this._working = null));
    return this._working;
  }

  private async _compute(run: IRunSummary): Promise<StaleReason[]> {
    try {
      const detail = await this._store.getRun(run.id);
      if (detail.snapshot_id !== run.snapshot_id) {
        return [];
      }
      // Runs that recorded the same files share one computation.
      const key = JSON.stringify([
        isWorkspaceRun(detail),
        ...detail.files.map(f => [f.role, f.sha256]).sort()
      ]);
      let pair = this._pairs.get(key);
      if (!pair) {
        pair = runStaleness(this._store, detail);
        this._pairs.set(key, pair);
      }
      return await pair;
    } catch {
      return []; // a run deleted meanwhile, a store that cannot be read
    }
  }

  private readonly _store: StaleManifests.IOptions['store'];
  private _known = new Map<string, StaleReason[]>();
  private _queued = new Map<string, IRunSummary>();
  private _pairs = new Map<string, Promise<StaleReason[]>>();
  private _working: Promise<void> | null = null;
  private _changed = new Signal<this, void>(this);
}

export namespace StaleManifests {
  export interface IOptions {
    /** Where runs and their files are read (the run store). */
    store: {
      getRun(id: number): Promise<IRunDetail>;
      getText(sha256: string): Promise<string | null>;
    };
  }
}

const NONE: readonly StaleReason[] = Object.freeze([]);

/** FIPS 180-4 SHA-1 as lower-case hex (Pkg's project_hash is one). */
export function sha1Hex(data: Uint8Array): string {
  const padded = new Uint8Array(((data.length + 9 + 63) >> 6) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(padded.length - 4, bits >>> 0);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Uint32Array(80);
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) {
      w[i] = view.getUint32(offset + i * 4);
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let [a, b, c, d, e] = h;
    for (let i = 0; i < 80; i++) {
      const [f, k] =
        i < 20
          ? [(b & c) | (~b & d), 0x5a827999]
          : i < 40
            ? [b ^ c ^ d, 0x6ed9eba1]
            : i < 60
              ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc]
              : [b ^ c ^ d, 0xca62c1d6];
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) >>> 0;
      e = d;
      d = c;
      c = ((b << 30) | (b >>> 2)) >>> 0;
      b = a;
      a = t;
    }
    h[0] = (h[0] + a) >>> 0;
    h[1] = (h[1] + b) >>> 0;
    h[2] = (h[2] + c) >>> 0;
    h[3] = (h[3] + d) >>> 0;
    h[4] = (h[4] + e) >>> 0;
  }
  return h.map(x => x.toString(16).padStart(8, '0')).join('');
}
