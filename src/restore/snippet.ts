/**
 * The Julia code that restores a run's files with plain Pkg, outside JupyterLab.
 *
 * A store may come from someone else: every name and sha256 is checked and every value
 * is escaped before it becomes Julia source. No DOM here; the details view turns the
 * problems into sentences.
 */
import { IRunDetail } from '../store/types';
import { isPlainFileName } from './names';
import { workspaceLayout } from './workspace';

/** One file the snippet writes: a plain name, its sha256, its bytes as base64. */
export interface ISnippetFile extends ISnippetEntry {
  base64: string;
}

/** Where a file goes: a plain name in `folder` ('' or plain names joined by '/'). */
export interface ISnippetEntry {
  name: string;
  sha256: string;
  /** Relative to the snippet's folder; '' (or absent) for the folder itself. */
  folder?: string;
}

/** What the snippet of a run writes and which of its folders it activates. */
export interface ISnippetPlan {
  files: ISnippetEntry[];
  /** The active project's folder, relative to the snippet's folder ('' for itself). */
  project: string;
}

/**
 * The files of a run's snippet: a Julia 1.12 workspace in its layout (the restore's,
 * without the notebook), any other run's project and manifest flat.
 */
export function snippetPlan(run: IRunDetail): ISnippetPlan {
  const layout = workspaceLayout(run);
  if (!layout) {
    return {
      files: run.files.filter(f => f.role !== 'workspace_project'),
      project: ''
    };
  }
  const notebook = run.notebook.stored ? run.notebook.sha256 : null;
  return {
    files: layout.files.filter(
      f => !(f.folder === layout.member && f.sha256 === notebook)
    ),
    project: layout.member
  };
}

/** Why a snippet is not built (`name` is the file's or the folder's, as stored). */
export interface ISnippetProblem {
  code: 'bad-folder' | 'bad-name' | 'duplicate-name' | 'bad-sha256';
  name: string;
}

/** The snippet's input was refused; nothing was built. */
export class SnippetError extends Error {
  constructor(readonly problems: ISnippetProblem[]) {
    super(
      problems.map(p => `${p.code} ${juliaStringLiteral(p.name)}`).join('; ')
    );
    this.name = 'SnippetError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/** '' or plain file names joined by '/'. */
function isPlainFolder(folder: unknown): boolean {
  return (
    folder === undefined ||
    folder === '' ||
    (typeof folder === 'string' && folder.split('/').every(isPlainFileName))
  );
}

/** A file's path below the snippet's folder, as its plain parts. */
function parts(file: ISnippetEntry): string[] {
  return [...(file.folder ? file.folder.split('/') : []), file.name];
}

/** What keeps `files` out of a snippet (empty: nothing). */
export function snippetProblems(
  files: ReadonlyArray<ISnippetEntry>
): ISnippetProblem[] {
  const problems: ISnippetProblem[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const { name, sha256 } = file;
    const path = parts(file).join('/');
    if (!isPlainFileName(name) || !isPlainFolder(file.folder)) {
      problems.push({ code: 'bad-name', name: String(path) });
    } else if (seen.has(path)) {
      problems.push({ code: 'duplicate-name', name: path });
    }
    seen.add(path);
    if (typeof sha256 !== 'string' || !SHA256.test(sha256)) {
      problems.push({ code: 'bad-sha256', name: String(name) });
    }
  }
  return problems;
}

/**
 * A Julia string literal of any JavaScript string, in ASCII: `\`, `"` and `$` escaped,
 * every other character outside printable ASCII as `\xHH`, `\uHHHH` or `\UHHHHHHHH`
 * (a lone surrogate too, which Julia keeps as such).
 */
export function juliaStringLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\' || ch === '"' || ch === '$') {
      out += `\\${ch}`;
    } else if (code >= 0x20 && code < 0x7f) {
      out += ch;
    } else if (code < 0x80) {
      out += `\\x${hex(code, 2)}`;
    } else if (code < 0x10000) {
      out += `\\u${hex(code, 4)}`;
    } else {
      out += `\\U${hex(code, 8)}`;
    }
  }
  return `${out}"`;
}

/**
 * The Julia code that writes `files` into a new `folder` (checked: every sha256, and
 * that no file is there yet, before anything is written), then activates the project
 * in `project` (relative to `folder`) and instantiates it.
 *
 * @throws SnippetError when a name is not a plain file name or a sha256 is not 64
 * lowercase hex digits.
 */
export function juliaSnippet(
  folder: string,
  files: ReadonlyArray<ISnippetFile>,
  project = ''
): string {
  const problems = snippetProblems(files);
  if (!isPlainFileName(folder) || !isPlainFolder(project)) {
    problems.unshift({ code: 'bad-folder', name: String(folder) });
  }
  if (problems.length) {
    throw new SnippetError(problems);
  }
  const entries = files
    .map(
      f =>
        `    ([${parts(f).map(juliaStringLiteral).join(', ')}], "${f.sha256}",\n     ${juliaStringLiteral(f.base64)}),`
    )
    .join('\n');
  const activated = project
    ? `joinpath(dir, ${project.split('/').map(juliaStringLiteral).join(', ')})`
    : 'dir';
  return `# Restore a DearDiary run with plain Pkg: the exact files, then instantiate.
using Pkg, Base64, SHA
dir = ${juliaStringLiteral(folder)}
files = [
${entries}
]
for (parts, sha, b64) in files   # check everything before writing anything
    name = join(parts, "/")
    bytes2hex(sha256(base64decode(b64))) == sha || error(name * ": sha256 mismatch")
    path = joinpath(dir, parts...)
    (islink(path) || ispath(path)) && error(name * " exists in " * dir * ": not overwritten")
end
for (parts, sha, b64) in files
    path = joinpath(dir, parts...)
    mkpath(dirname(path))
    write(path, base64decode(b64))
end
Pkg.activate(${activated})
Pkg.instantiate()   # never resolve or update: the manifest is the record
`;
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}
