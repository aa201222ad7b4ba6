/**
 * What the kernel loaded from outside its active project: packages found in another
 * environment of the stacked LOAD_PATH (typically the global `@v1.x` one, where people
 * keep Revise or Plots). Such code ran but is not in the active manifest, so a restore of
 * the project alone lacks it. Pure functions over a capture; no DOM, no services.
 */
import {
  ICapture,
  ICapturedFile,
  ILoadedPackage,
  ILoadPathEnvironment,
  pathToString
} from '../kernel/protocol';
import { IManifest, parseManifest } from './parse';

/** The folder, inside a restore target, that carried environments are written into. */
export const ENVIRONMENTS_FOLDER = 'environments';

/** The packages that make the kernel itself (never the notebook's own code). */
const KERNEL_ROOTS = ['IJulia'];

/** One environment other than the active project that loaded packages came from. */
export interface IOutsideEnvironment {
  /** Index in `capture.environments` (and `sys.load_path`). */
  index: number;
  environment: ILoadPathEnvironment;
  /** Its folder (or the LOAD_PATH entry), as text. */
  path: string;
  /** The sub-folder of ENVIRONMENTS_FOLDER its files restore into (plain, unique). */
  folder: string;
  /** Loaded packages Julia finds there first (no stdlibs), by name. */
  packages: ILoadedPackage[];
  /** Names among `packages` that belong to the kernel (IJulia and what it needs). */
  kernel_packages: string[];
  /** Its Project/Manifest files as recorded with the run (none when not carried). */
  files: ICapturedFile[];
}

/**
 * The environments other than the active project that loaded packages (stdlibs aside)
 * came from, in LOAD_PATH order. `manifests` (by environment index) tells which of the
 * packages are the kernel's own: IJulia and its dependencies in that manifest.
 * Empty for captures that did not list loaded packages.
 */
export function outsideEnvironments(
  capture: ICapture,
  manifests: ReadonlyMap<number, IManifest> = new Map()
): IOutsideEnvironment[] {
  const environments = capture.environments ?? [];
  const out: IOutsideEnvironment[] = [];
  const used = new Set<string>();
  environments.forEach((environment, index) => {
    if (environment.active || environment.stdlib) {
      return;
    }
    const packages = (capture.loaded ?? [])
      .filter(p => p.env === index && !p.stdlib)
      .sort((a, b) => a.name.localeCompare(b.name));
    if (!packages.length) {
      return;
    }
    const path = environmentFolder(environment);
    const folder = unique(folderName(path), used);
    const kernel = kernelClosure(manifests.get(index));
    out.push({
      index,
      environment,
      path,
      folder,
      packages,
      kernel_packages: packages
        .filter(p => KERNEL_ROOTS.includes(p.name) || kernel.has(p.name))
        .map(p => p.name),
      files: capture.files.filter(
        f =>
          (f.role === 'env_project' || f.role === 'env_manifest') &&
          f.env === index
      )
    });
  });
  return out;
}

/** The packages of an outside environment that are the notebook's, not the kernel's. */
export function userPackages(env: IOutsideEnvironment): ILoadedPackage[] {
  return env.packages.filter(p => !env.kernel_packages.includes(p.name));
}

/**
 * outsideEnvironments with the carried manifests read through `getText` (by sha256), so
 * that the kernel's own packages are told apart. A manifest that cannot be read or
 * parsed only loses that distinction.
 */
export async function outsideEnvironmentsOf(
  capture: ICapture,
  getText: (sha256: string) => Promise<string | null>
): Promise<IOutsideEnvironment[]> {
  const manifests = new Map<number, IManifest>();
  for (const file of capture.files) {
    if (file.role !== 'env_manifest' || file.env === undefined) {
      continue;
    }
    try {
      const text = await getText(file.sha256);
      if (text !== null) {
        manifests.set(file.env, parseManifest(text));
      }
    } catch {
      // unparseable: every package of that environment counts as the notebook's
    }
  }
  return outsideEnvironments(capture, manifests);
}

/** The folder a restore writes an outside environment's files into, under `target`. */
export function environmentTarget(
  target: string,
  env: IOutsideEnvironment
): string {
  const base = target.replace(/^\/+|\/+$/g, '');
  const sub = `${ENVIRONMENTS_FOLDER}/${env.folder}`;
  return base ? `${base}/${sub}` : sub;
}

/** The folder of an environment (its project file's folder, or the entry itself). */
export function environmentFolder(env: ILoadPathEnvironment): string {
  const path = pathToString(env.project ?? env.path).replace(/\/+$/, '');
  return /(^|\/)(Julia)?Project\.toml$/.test(path)
    ? path.replace(/\/?[^/]*$/, '') || '/'
    : path;
}

/** IJulia and everything it depends on in `manifest`, by name. */
function kernelClosure(manifest: IManifest | undefined): Set<string> {
  const out = new Set<string>();
  if (!manifest) {
    return out;
  }
  const byName = new Map<string, string[]>();
  for (const p of manifest.packages) {
    byName.set(p.name, [...(byName.get(p.name) ?? []), ...p.deps]);
  }
  const todo = KERNEL_ROOTS.filter(name => byName.has(name));
  while (todo.length) {
    const name = todo.pop()!;
    if (out.has(name)) {
      continue;
    }
    out.add(name);
    todo.push(...(byName.get(name) ?? []));
  }
  return out;
}

/** A plain folder name from an environment's folder ("v1.10" for the global one). */
function folderName(path: string): string {
  const base = path.split('/').filter(Boolean).pop() ?? '';
  const clean = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.]+/, '');
  return clean && clean !== '_' ? clean : 'environment';
}

function unique(name: string, used: Set<string>): string {
  let candidate = name;
  for (let i = 2; used.has(candidate); i++) {
    candidate = `${name}-${i}`;
  }
  used.add(candidate);
  return candidate;
}
