/**
 * Restore planning, without side effects: the pre-flight findings shown before anything
 * is written, the default target folder, and the restore request built from a stored run.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { hintMessage } from '../manifest/words';
import { IHint } from '../manifest/hints';
import {
  ENVIRONMENTS_FOLDER,
  IOutsideEnvironment,
  userPackages
} from '../manifest/loaded';
import { IRestoreRequest } from '../server/api';
import { IRunDetail } from '../store/types';
import { ISpecMatch, minorOf } from './kernelspec';
import {
  unresolvedPaths,
  workspaceFinding,
  workspaceLayout
} from './workspace';
import { toBase64 } from '../bytes';

/** One finding of the pre-flight. */
export interface IFinding {
  code: string;
  /** ok: as captured; info: worth knowing; warning: the restore may differ; error: cannot. */
  severity: 'ok' | 'info' | 'warning' | 'error';
  message: string;
}

export interface IPreflightInput {
  run: IRunDetail;
  /** The run's restorability hints (restoreHints). */
  hints: IHint[];
  /** The kernelspec chosen to reopen the notebook with (null: none). */
  kernel: ISpecMatch | null;
  /** How many Julia kernelspecs exist. */
  julia_kernels: number;
  /** Environments other than the project that loaded packages came from. */
  outside?: IOutsideEnvironment[];
}

/** The notebook file name a run restores (the basename of its path). */
export function notebookName(run: IRunDetail): string {
  return run.notebook_path.split('/').pop() || 'notebook.ipynb';
}

/**
 * The default target: a new `iteration_<id>` folder in `folder` (DearDiary's name). The id
 * is the store's, not the notebook's run number the sidebar shows first: every label that
 * leads to this folder names both (see `runName`).
 */
export function defaultTarget(folder: string, run: { id: number }): string {
  const name = `iteration_${run.id}`;
  const base = folder.replace(/^\/+|\/+$/g, '');
  return base ? `${base}/${name}` : name;
}

/**
 * A run as the user finds it everywhere: the notebook's run number the sidebar shows and
 * the store id its restore folder is named after, e.g. "run #2 (iteration 3)".
 */
export function runName(
  trans: TranslationBundle,
  run: { id: number; number: number }
): string {
  return trans.__('run #%1 (iteration %2)', run.number, run.id);
}

/** The folder of a notebook path ('' for the root). */
export function folderOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** What restoring this run will and will not reproduce, most important first. */
export function preflight(
  trans: TranslationBundle,
  input: IPreflightInput
): IFinding[] {
  const { run, hints, kernel } = input;
  const out: IFinding[] = [];
  const captured = run.julia_version;

  if (!kernel) {
    out.push({
      code: 'no-kernel',
      severity: input.julia_kernels ? 'warning' : 'error',
      message: input.julia_kernels
        ? trans.__(
            'No kernel is chosen: the files are restored, and the notebook is not reopened.'
          )
        : trans.__(
            'No Julia kernel is installed: the files can be restored, but the notebook cannot be reopened. Install IJulia for Julia %1 (using IJulia; installkernel("Julia")).',
            minorOf(captured) ?? captured
          )
    });
  } else {
    const name = `${kernel.spec.display_name} (${kernel.spec.name})`;
    switch (kernel.fit) {
      case 'exact':
      case 'minor':
        out.push({
          code: 'julia-match',
          severity: 'ok',
          message: trans.__(
            'Kernel %1 runs Julia %2, like the run (Julia %3); the started kernel confirms it.',
            name,
            kernel.version ?? '?',
            captured
          )
        });
        break;
      case 'patch':
        out.push({
          code: 'julia-patch',
          severity: 'info',
          message: trans.__(
            'Kernel %1 runs Julia %2; the run used Julia %3. Same minor version: the manifest applies as it is.',
            name,
            kernel.version ?? '?',
            captured
          )
        });
        break;
      default:
        out.push({
          code: 'julia-differs',
          severity: 'warning',
          message:
            kernel.fit === 'other'
              ? trans.__(
                  'No kernel runs Julia %1: %2 runs Julia %3. Its standard library and package versions may differ from the run; install IJulia for Julia %1 to reproduce it exactly.',
                  minorOf(captured) ?? captured,
                  name,
                  kernel.version ?? '?'
                )
              : trans.__(
                  'Kernel %1 does not tell its Julia version; the run used Julia %2. The started kernel will tell.',
                  name,
                  captured
                )
        });
    }
  }

  const workspace = workspaceFinding(trans, run);
  if (workspace) {
    out.push(workspace);
  }
  const layout = workspaceLayout(run);
  for (const hint of hints) {
    if (hint.code === 'path-dependency') {
      const left = unresolvedPaths(layout, hint);
      if (!left.length) {
        continue; // inside the restored workspace: the workspace finding says so
      }
      out.push({
        code: hint.code,
        severity: 'warning',
        message: layout
          ? trans.__(
              'Will not resolve from the new folder: %1 (manifest entries with `path =` outside the workspace).',
              left.join(', ')
            )
          : trans.__(
              'Will not resolve from the new folder: %1 (manifest entries with `path =`). %2',
              left.join(', '),
              hintMessage(trans, hint)
            )
      });
    } else {
      out.push({
        code: hint.code,
        severity: hint.severity,
        message: hintMessage(trans, hint)
      });
    }
  }

  out.push(...outsideFindings(trans, input.outside ?? []));

  out.push(gitFinding(trans, run));

  out.push(
    run.notebook.stored
      ? {
          code: 'notebook',
          severity: 'ok',
          message:
            run.notebook.origin === 'editor'
              ? trans.__(
                  'The notebook is written beside them as %1, as it was in the editor when the run was recorded (what its outputs came from)%2.',
                  notebookName(run),
                  run.notebook.saved?.stored
                    ? trans.__(
                        '; the saved file differed and can be written instead'
                      )
                    : ''
                )
              : trans.__(
                  'The notebook is written beside them as %1, as it was saved when the run was recorded%2.',
                  notebookName(run),
                  run.notebook.unsaved_changes
                    ? trans.__(
                        ' (it had unsaved changes then, which are not in it)'
                      )
                    : ''
                )
        }
      : {
          code: 'no-notebook',
          severity: 'warning',
          message: trans.__(
            'The notebook\u2019s bytes were not kept with this run (setting "Keep the notebook\u2019s bytes"): only the environment files are restored, and there is no notebook to reopen.'
          )
        }
  );
  return out;
}

/**
 * Packages the kernel loaded from outside the active project, by environment: a warning
 * naming the notebook's packages (the kernel's own, IJulia and what it needs, are only
 * mentioned), and whether that environment's files can be carried along.
 */
export function outsideFindings(
  trans: TranslationBundle,
  outside: IOutsideEnvironment[]
): IFinding[] {
  const out: IFinding[] = [];
  for (const env of outside) {
    const where = env.environment.is_global
      ? trans.__('the global environment')
      : trans.__('the environment %1', env.path);
    const user = userPackages(env).map(p => p.name);
    if (!user.length) {
      out.push({
        code: 'kernel-outside',
        severity: 'info',
        message: trans.__(
          '%1 came from %2: the kernel\u2019s own packages; the reopened notebook uses those of the kernel you choose.',
          env.kernel_packages.join(', '),
          where
        )
      });
      continue;
    }
    const loaded = trans._n(
      '%2 was loaded from %3; the restored project does not contain it.',
      '%2 were loaded from %3; the restored project does not contain them.',
      user.length,
      user.join(', '),
      where
    );
    const carry = env.files.length
      ? trans.__(
          'Its Project.toml and Manifest.toml were recorded: \u201cCarry along\u201d writes them into %1 in the target folder; push!(LOAD_PATH, that folder) before loading them.',
          `${ENVIRONMENTS_FOLDER}/${env.folder}/`
        )
      : env.environment.error
        ? trans.__(
            'Its files were not recorded: %1',
            env.environment.error.message
          )
        : env.environment.project
          ? trans.__(
              'Its files were not recorded (this run was captured before DearDiary recorded them).'
            )
          : trans.__(
              'It is a folder of packages, not a project: DearDiary does not record it.'
            );
    out.push({
      code: 'loaded-outside',
      severity: 'warning',
      message: `${loaded} ${carry}`
    });
  }
  return out;
}

function gitFinding(trans: TranslationBundle, run: IRunDetail): IFinding {
  if (run.git.state !== 'ok') {
    return {
      code: 'git-unknown',
      severity: 'info',
      message: trans.__('The git state was not recorded: %1', run.git.message)
    };
  }
  const git = run.git.git;
  if (!git.repo || !git.head_sha) {
    return {
      code: 'no-git',
      severity: 'info',
      message: trans.__(
        'The notebook was not in a git repository: the code of the run is the notebook alone.'
      )
    };
  }
  const where = trans.__(
    'commit %1%2',
    git.head_sha.slice(0, 10),
    git.branch ? ` (${git.branch})` : ''
  );
  if (!git.dirty) {
    return {
      code: 'git-clean',
      severity: 'ok',
      message: trans.__(
        'Code: %1, no uncommitted changes. "Restore code" checks it out as a git worktree.',
        where
      )
    };
  }
  return {
    code: 'git-dirty',
    severity: git.truncated || !git.patch ? 'warning' : 'info',
    message: git.truncated
      ? trans.__(
          'Code: %1 with uncommitted changes; the stored patch stopped at the size cap, so the changes cannot be restored completely.',
          where
        )
      : git.patch
        ? trans.__(
            'Code: %1 with uncommitted changes; their patch is stored (%2 bytes) and "Restore code" applies it.',
            where,
            git.patch_bytes ?? git.patch.length
          )
        : trans.__(
            'Code: %1 with uncommitted changes that no patch records (binary or untracked files only).',
            where
          )
  };
}

/** The request that writes a run's files and notebook into `target`. */
export async function restoreRequest(
  run: IRunDetail,
  target: string,
  blob: (sha256: string) => Promise<Uint8Array | null>
): Promise<IRestoreRequest> {
  // The flat layout: the project and its manifest (a workspace: see workspace.ts).
  const wanted = run.files
    .filter(f => f.role === 'project' || f.role === 'manifest')
    .map(f => ({ name: f.name, sha256: f.sha256 }));
  if (run.notebook.stored) {
    wanted.push({ name: notebookName(run), sha256: run.notebook.sha256 });
  }
  const files = [];
  for (const file of wanted) {
    const bytes = await blob(file.sha256);
    if (!bytes) {
      throw new Error(`${file.name}: its bytes are not in the store`);
    }
    files.push({ ...file, base64: toBase64(bytes) });
  }
  return {
    target,
    files,
    metadata: {
      project_path: run.project_path === null ? null : String(run.project_path),
      julia_version: run.julia_version,
      git_sha: run.git_sha,
      git_dirty: run.git_dirty,
      entrypoint: run.notebook.stored ? notebookName(run) : null
    }
  };
}
