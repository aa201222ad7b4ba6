/**
 * The Julia code that restores a run's files with plain Pkg, outside JupyterLab.
 *
 * A store may come from someone else: every name and sha256 is checked and every value
 * is escaped before it becomes Julia source. No DOM here; the details view turns the
 * problems into sentences.
 */

/** One file the snippet writes: a plain name, its sha256, its bytes as base64. */
export interface ISnippetFile {
  name: string;
  sha256: string;
  base64: string;
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
/** Control characters (C0, DEL, C1), lone surrogates, bidi marks, embeddings, overrides, isolates. */
const UNSAFE = /[\p{Cc}\p{Cs}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/**
 * A name that stays inside the folder it is joined to, on every system: not empty, not
 * `.` or `..`, no `/`, `\` or `:` (a drive on Windows), nothing invisible or reordering.
 */
export function isPlainFileName(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name !== '' &&
    name !== '.' &&
    name !== '..' &&
    !/[/\\:]/.test(name) &&
    !UNSAFE.test(name)
  );
}

/** What keeps `files` out of a snippet (empty: nothing). */
export function snippetProblems(
  files: ReadonlyArray<{ name: string; sha256: string }>
): ISnippetProblem[] {
  const problems: ISnippetProblem[] = [];
  const seen = new Set<string>();
  for (const { name, sha256 } of files) {
    if (!isPlainFileName(name)) {
      problems.push({ code: 'bad-name', name: String(name) });
    } else if (seen.has(name)) {
      problems.push({ code: 'duplicate-name', name });
    }
    seen.add(name);
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
 * that no file is there yet, before anything is written), then activates and
 * instantiates it.
 *
 * @throws SnippetError when a name is not a plain file name or a sha256 is not 64
 * lowercase hex digits.
 */
export function juliaSnippet(
  folder: string,
  files: ReadonlyArray<ISnippetFile>
): string {
  const problems = snippetProblems(files);
  if (!isPlainFileName(folder)) {
    problems.unshift({ code: 'bad-folder', name: String(folder) });
  }
  if (problems.length) {
    throw new SnippetError(problems);
  }
  const entries = files
    .map(
      f =>
        `    (${juliaStringLiteral(f.name)}, "${f.sha256}",\n     ${juliaStringLiteral(f.base64)}),`
    )
    .join('\n');
  return `# Restore a DearDiary run with plain Pkg: the exact files, then instantiate.
using Pkg, Base64, SHA
dir = ${juliaStringLiteral(folder)}
files = [
${entries}
]
for (name, sha, b64) in files   # check everything before writing anything
    bytes2hex(sha256(base64decode(b64))) == sha || error(name * ": sha256 mismatch")
    path = joinpath(dir, name)
    (islink(path) || ispath(path)) && error(name * " exists in " * dir * ": not overwritten")
end
mkpath(dir)
for (name, sha, b64) in files
    write(joinpath(dir, name), base64decode(b64))
end
Pkg.activate(dir)
Pkg.instantiate()   # never resolve or update: the manifest is the record
`;
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}
