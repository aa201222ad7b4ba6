/**
 * Workspace-aware restore (Julia 1.12 workspaces). A member of a workspace uses the
 * manifest of the workspace's root, whose `path = "core"` entries (and the members'
 * `[sources]` paths) are relative to the root's folder. Restoring the member's project
 * and that manifest flat into one folder leaves them unresolved, and Julia would not even
 * find the manifest. So such a run is restored with its workspace layout: the root's
 * project file and the manifest at the target, every other project file of the workspace
 * the kernel recorded (role `workspace_project`, named relative to the root's folder) in
 * its folder, the notebook beside the active project. The endpoint writes plain names
 * into one folder, so each folder is its own POST /deardiary/restore, root first.
 */
import type { Contents } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { IHint } from '../manifest/hints';
import { PathValue } from '../kernel/protocol';
import {
  IRestoreFile,
  IRestoreRequest,
  IRestoreResult,
  IRestoredFile
} from '../server/api';
import { IRunDetail } from '../store/types';
import { isPlainFileName } from './names';
import { notebookName } from './plan';
import { toBase64 } from '../bytes';

/** One file of the workspace layout. */
export interface ILayoutFile {
  /** Its folder relative to the target ('' for the target itself). */
  folder: string;
  /** A plain file name. */
  name: string;
  sha256: string;
}

/** Where a workspace restore puts each file. */
export interface IWorkspaceLayout {
  /** The root project's file name, written at the target. */
  root: string;
  /** The active project's folder relative to the root ('' when it is the root). */
  member: string;
  /** The folders written, relative to the target: '' first, parents before children. */
  folders: string[];
  /** The folder of the manifest, relative to the target (usually ''). */
  manifestFolder: string;
  /** Every file, the notebook included (in `member`). */
  files: ILayoutFile[];
}

/** Why a run whose project belongs to a workspace is restored flat. */
export type FlatReason =
  /** Captured before DearDiary recorded the workspace's project files. */
  | 'not-recorded'
  /** A path is not valid UTF-8, or leads outside the root's folder. */
  | 'outside';

/**
 * The workspace layout of a run, or null when the run is no workspace member (or root)
 * or its layout cannot be rebuilt (see `flatWorkspace`).
 */
export function workspaceLayout(run: IRunDetail): IWorkspaceLayout | null {
  const members = run.files.filter(f => f.role === 'workspace_project');
  const project = run.files.find(f => f.role === 'project');
  const manifest = run.files.find(f => f.role === 'manifest');
  const capture = run.capture;
  if (!members.length || !project || !manifest || !capture.project) {
    return null;
  }
  const projectPath = plain(capture.project.path);
  const rootFile =
    capture.workspace_root === null
      ? projectPath
      : plain(capture.workspace_root);
  const manifestPath = capture.manifest ? plain(capture.manifest.path) : null;
  if (projectPath === null || rootFile === null || manifestPath === null) {
    return null;
  }
  const rootDir = dirname(rootFile);
  const member = relative(rootDir, dirname(projectPath));
  const manifestFolder = relative(rootDir, dirname(manifestPath));
  if (member === null || manifestFolder === null) {
    return null;
  }
  const files: ILayoutFile[] = [
    { folder: member, name: project.name, sha256: project.sha256 },
    { folder: manifestFolder, name: manifest.name, sha256: manifest.sha256 }
  ];
  for (const f of members) {
    const parts = f.name.split('/');
    const name = parts.pop()!;
    files.push({ folder: parts.join('/'), name, sha256: f.sha256 });
  }
  if (run.notebook.stored) {
    files.push({
      folder: member,
      name: notebookName(run),
      sha256: run.notebook.sha256
    });
  }
  const seen = new Set<string>();
  for (const f of files) {
    const key = `${f.folder}/${f.name}`;
    if (
      seen.has(key) ||
      !isPlainFileName(f.name) ||
      (f.folder !== '' && !f.folder.split('/').every(isPlainFileName))
    ) {
      return null;
    }
    seen.add(key);
  }
  const root = files.find(f => f.folder === '' && isProjectName(f.name));
  if (!root) {
    return null;
  }
  const folders = [...new Set(files.map(f => f.folder))].sort(
    (a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0)
  );
  return { root: root.name, member, folders, manifestFolder, files };
}

/**
 * Why a workspace member is restored flat, or null: it is not a workspace member, or its
 * layout is rebuilt.
 */
export function flatWorkspace(run: IRunDetail): FlatReason | null {
  if (workspaceLayout(run)) {
    return null;
  }
  if (run.files.some(f => f.role === 'workspace_project')) {
    return 'outside';
  }
  // Recorded before the workspace's files were: the member used the root's manifest
  // when that manifest is not in the project's own folder.
  const { project, manifest, workspace_root } = run.capture;
  return workspace_root !== null &&
    project !== null &&
    manifest !== null &&
    run.files.some(f => f.role === 'manifest') &&
    dirname(plain(manifest.path) ?? '') !== dirname(plain(project.path) ?? '')
    ? 'not-recorded'
    : null;
}

/** A target folder and a folder relative to it, joined. */
export function joinTarget(target: string, folder: string): string {
  return [target, folder].filter(Boolean).join('/');
}

/** The pre-flight finding that says how the workspace is restored, or null. */
export function workspaceFinding(
  trans: TranslationBundle,
  run: IRunDetail
): {
  code: string;
  severity: 'ok' | 'info' | 'warning';
  message: string;
} | null {
  const layout = workspaceLayout(run);
  if (layout) {
    const others = layout.folders.filter(f => f !== '' && f !== layout.member);
    const where = layout.member
      ? trans.__('the notebook\u2019s project in %1/', layout.member)
      : trans.__('the notebook\u2019s project is the root');
    return {
      code: 'workspace',
      severity: 'ok',
      message: trans.__(
        'Restored as a workspace: root %1 and its manifest %2 in the target folder, %3%4, so that every `path =` inside the workspace resolves. The members\u2019 source code is not part of the run: "Restore code" brings it.',
        layout.root,
        joinTarget(
          layout.manifestFolder,
          run.files.find(r => r.role === 'manifest')?.name ?? ''
        ),
        where,
        others.length
          ? trans.__(
              '; the other projects of the workspace in %1',
              others.map(f => `${f}/`).join(', ')
            )
          : ''
      )
    };
  }
  switch (flatWorkspace(run)) {
    case 'not-recorded':
      return {
        code: 'workspace-flat',
        severity: 'warning',
        message: trans.__(
          'The project was a member of a workspace, but this run was recorded before DearDiary kept the workspace\u2019s other project files: its project and the workspace\u2019s manifest are restored flat into one folder, where Julia does not use that manifest and `path =` entries do not resolve. Record a new run to restore the workspace.'
        )
      };
    case 'outside':
      return {
        code: 'workspace-flat',
        severity: 'warning',
        message: trans.__(
          'The project was a member of a workspace whose layout cannot be rebuilt (a path is not valid UTF-8 or leads outside the workspace root\u2019s folder): its project and manifest are restored flat into one folder, where `path =` entries may not resolve.'
        )
      };
    default:
      return null;
  }
}

/**
 * The packages of a path-dependency hint that a workspace restore does NOT bring back
 * (their `path` leads to no folder it writes); all of them without a layout.
 */
export function unresolvedPaths(
  layout: IWorkspaceLayout | null,
  hint: IHint
): string[] {
  const packages = hint.packages ?? [];
  if (!layout || !hint.paths) {
    return packages;
  }
  const folders = new Set(layout.folders);
  return packages.filter((_, i) => {
    const p = hint.paths![i];
    const folder =
      p === undefined ? null : normalize(joinTarget(layout.manifestFolder, p));
    return folder === null || !folders.has(folder);
  });
}

/** One POST of a workspace restore. */
export interface IFolderRequest {
  folder: string;
  request: IRestoreRequest;
}

/** The restore requests of a workspace layout, one per folder, root first. */
export async function workspaceRequests(
  run: IRunDetail,
  layout: IWorkspaceLayout,
  target: string,
  blob: (sha256: string) => Promise<Uint8Array | null>
): Promise<IFolderRequest[]> {
  const cache = new Map<string, string>();
  const out: IFolderRequest[] = [];
  for (const folder of layout.folders) {
    const files: IRestoreFile[] = [];
    for (const f of layout.files.filter(x => x.folder === folder)) {
      let base64 = cache.get(f.sha256);
      if (base64 === undefined) {
        const bytes = await blob(f.sha256);
        if (!bytes) {
          throw new Error(
            `${joinTarget(folder, f.name)}: its bytes are not in the store`
          );
        }
        base64 = toBase64(bytes);
        cache.set(f.sha256, base64);
      }
      files.push({ name: f.name, sha256: f.sha256, base64 });
    }
    const isMember = folder === layout.member;
    out.push({
      folder,
      request: {
        target: joinTarget(target, folder),
        files,
        metadata: {
          project_path: run.project_path,
          julia_version: run.julia_version,
          git_sha: run.git_sha,
          git_dirty: run.git_dirty,
          entrypoint: isMember && run.notebook.stored ? notebookName(run) : null
        }
      }
    });
  }
  return out;
}

/** What a workspace restore needs from its surroundings. */
export interface IWorkspaceWriteOptions {
  requests: IFolderRequest[];
  layout: IWorkspaceLayout;
  /** POST /deardiary/restore. */
  restore: (request: IRestoreRequest) => Promise<IRestoreResult>;
  /** The names in a folder relative to the server root; null when it does not exist. */
  list: (path: string) => Promise<string[] | null>;
  /** Ask whether to replace these files (relative to the target); false: write nothing. */
  confirm: (existing: string[]) => Promise<boolean>;
}

/**
 * Write every folder of a workspace restore and merge the answers into one RestoreResult
 * (`target` the workspace root; `entrypoint` the notebook relative to it; the project is
 * the member's; file names relative to the target). Existing files are looked up first
 * and replaced only after one confirmation; null when the user keeps them (nothing was
 * written). A folder that fails after others were written throws an error naming those.
 */
export async function writeWorkspace(
  options: IWorkspaceWriteOptions
): Promise<IRestoreResult | null> {
  const { requests, layout } = options;
  const existing: string[] = [];
  for (const { folder, request } of requests) {
    const names = new Set((await options.list(request.target)) ?? []);
    for (const f of request.files) {
      if (names.has(f.name)) {
        existing.push(joinTarget(folder, f.name));
      }
    }
  }
  const overwrite = existing.length > 0;
  if (overwrite && !(await options.confirm(existing))) {
    return null;
  }
  const results: Array<[string, IRestoreResult]> = [];
  for (const { folder, request } of requests) {
    try {
      results.push([
        folder,
        await options.restore(overwrite ? { ...request, overwrite } : request)
      ]);
    } catch (error) {
      if (results.length) {
        const written = results.map(([f]) => f || '.').join(', ');
        const e = error as Error;
        e.message = `${e.message} (the workspace folders ${written} were written already; ${folder || '.'} and those after it were not)`;
      }
      throw error;
    }
  }
  const top = results[0][1];
  const member = results.find(([f]) => f === layout.member)?.[1] ?? top;
  const files: IRestoredFile[] = results.flatMap(([folder, r]) =>
    r.files.map(f => ({ ...f, name: joinTarget(folder, f.name) }))
  );
  return {
    ...member,
    target: top.target,
    target_abs: top.target_abs,
    entrypoint: member.entrypoint
      ? joinTarget(layout.member, member.entrypoint)
      : null,
    files
  };
}

/** The names in a folder (relative to the server root); null when there is none. */
export async function listFolder(
  contents: Contents.IManager,
  path: string
): Promise<string[] | null> {
  try {
    const model = await contents.get(path, { content: true });
    return model.type === 'directory'
      ? (model.content as Contents.IModel[]).map(m => m.name)
      : null;
  } catch (error) {
    if ((error as { response?: Response }).response?.status === 404) {
      return null;
    }
    throw error;
  }
}

/** A path as text, or null when it is not valid UTF-8 (`{b64}`). */
function plain(path: PathValue): string | null {
  return typeof path === 'string' ? path : null;
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** `path` relative to `root`, both absolute ('' when equal); null when not inside. */
function relative(root: string, path: string): string | null {
  const r = normalize(root);
  const p = normalize(path);
  if (r === null || p === null) {
    return null;
  }
  if (p === r) {
    return '';
  }
  const prefix = r.endsWith('/') ? r : `${r}/`;
  return p.startsWith(prefix) ? p.slice(prefix.length) : null;
}

/** Collapse '.', '..' and repeated slashes; null when '..' climbs above the start. */
function normalize(path: string): string | null {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') {
      continue;
    }
    if (part === '..') {
      if (!out.length) {
        return null;
      }
      out.pop();
    } else {
      out.push(part);
    }
  }
  return (absolute ? '/' : '') + out.join('/');
}

function isProjectName(name: string): boolean {
  return name === 'JuliaProject.toml' || name === 'Project.toml';
}

function depth(folder: string): number {
  return folder === '' ? 0 : folder.split('/').length;
}
