/**
 * The run filter of the history sidebar.
 *
 * Query syntax (terms are separated by spaces; a run must match every term):
 *
 * | term              | matches runs …                                                |
 * |-------------------|---------------------------------------------------------------|
 * | `word`            | whose note or notebook path contains `word` (any case)        |
 * | `"a phrase"`      | whose note or notebook path contains the phrase (any case)    |
 * | `Name@1.6`        | whose manifest has package `Name` at a version starting 1.6   |
 * |                   | (1.6.0, 1.6.12; not 1.60.0). `Name@` alone: `Name` is present |
 * | `pkg:Name`        | whose manifest has package `Name` (`pkg:Name@1.6` also works) |
 * | `julia:1.10`      | run with a Julia version starting 1.10                        |
 * | `sha:abc12`       | whose git commit starts with these (at least 4) hex digits    |
 * | `nb:path`         | whose notebook path contains `path` (`nb:"a b"` for spaces)   |
 * | `is:dirty`        | recorded with uncommitted changes (`is:clean`: without)       |
 * | `is:global`       | run in Julia's global environment                             |
 * | `has:note`        | with a note (`has:manifest`: with a captured manifest)        |
 *
 * Package names compare without regard to case. A bare word never means a package
 * (it could be any word of a note): use `pkg:Name` or `Name@version`. A `key:value` term
 * with a key not listed here (or an `is:`/`has:` value not listed) is a free word.
 * Runs whose packages the caller did not supply match no package term.
 */
import { IRunSummary } from '../store/types';
import { matchesVersionPrefix } from './version';

/** Syntax lines for the sidebar's help: [example, what it matches]. */
export const QUERY_HELP: readonly (readonly [string, string])[] = [
  [
    'word "a phrase"',
    'note or notebook path contains it (all terms must match)'
  ],
  ['DataFrames@1.6', 'package DataFrames at version 1.6.x'],
  ['pkg:DataFrames', 'package DataFrames, any version'],
  ['julia:1.10', 'Julia 1.10.x'],
  ['sha:abc1234', 'git commit starting with these hex digits (4 or more)'],
  ['nb:analysis/', 'notebook path contains it'],
  [
    'is:dirty  is:clean  is:global',
    'uncommitted changes, none, global environment'
  ],
  ['has:note  has:manifest', 'with a note, with a manifest']
];

/** A package term: `Name@version`, `pkg:Name`. */
export interface IPackageTerm {
  /** As typed. */
  name: string;
  /** The name lower-cased, for lookups. */
  key: string;
  /** A version prefix, or null for "any version". */
  version: string | null;
}

/** A parsed filter (build it once per keystroke with parseQuery). */
export interface IRunQuery {
  /** Free words and phrases, lower-cased: each must be in the note or the notebook path. */
  words: string[];
  /** `nb:` substrings, lower-cased. */
  notebooks: string[];
  packages: IPackageTerm[];
  /** `julia:` version prefixes. */
  julia: string[];
  /** `sha:` prefixes, lower-cased; an invalid one is kept as null (matches no run). */
  sha: (string | null)[];
  dirty: boolean;
  clean: boolean;
  global: boolean;
  has_note: boolean;
  has_manifest: boolean;
  /** Terms that cannot match as typed, in words (for the sidebar to show). */
  problems: string[];
  /** No term at all: every run matches. */
  empty: boolean;
}

/**
 * The packages of a run's manifest as the filter needs them: lower-cased name -> the
 * versions under that name (null: the manifest records none). Only the names a query
 * asks for need to be there (the store's index answers them: packageVersions).
 */
export type RunPackages = ReadonlyMap<string, readonly (string | null)[]>;

/** A run as the filter sees it. */
export interface ISearchableRun extends IRunSummary {
  packages?: RunPackages;
}

const SHA_RE = /^[0-9a-fA-F]{4,40}$/;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_!]*$/;
const VERSION_PREFIX_RE = /^v?\d+(\.\d+)*(\.|[-+][0-9A-Za-z.+-]*)?$/;
const NON_SPACE = /\S/;

/** Parse a filter as typed (see the syntax at the top of this module). */
export function parseQuery(input: string): IRunQuery {
  const query: IRunQuery = {
    words: [],
    notebooks: [],
    packages: [],
    julia: [],
    sha: [],
    dirty: false,
    clean: false,
    global: false,
    has_note: false,
    has_manifest: false,
    problems: [],
    empty: true
  };
  for (const token of tokenize(input)) {
    if (token.phrase || !applyTerm(query, token.text)) {
      const word = token.text.toLowerCase();
      if (word !== '') {
        query.words.push(word);
      }
    }
  }
  query.empty =
    query.words.length +
      query.notebooks.length +
      query.packages.length +
      query.julia.length +
      query.sha.length ===
      0 &&
    !query.dirty &&
    !query.clean &&
    !query.global &&
    !query.has_note &&
    !query.has_manifest;
  return query;
}

/**
 * Whether a run matches a parsed query. Allocates nothing in the common case (lower-
 * cased strings are cached), so it can run over 10,000 runs per keystroke. `packages` defaults to `run.packages`; passing it spares the caller a
 * `{...run, packages}` copy per run.
 */
export function matchRun(
  run: ISearchableRun,
  query: IRunQuery,
  packages: RunPackages | undefined = run.packages
): boolean {
  if (query.empty) {
    return true;
  }
  if (
    (query.dirty && run.git_dirty !== true) ||
    (query.clean && run.git_dirty !== false) ||
    (query.global && !run.is_global_env) ||
    (query.has_manifest && !run.has_manifest) ||
    (query.has_note && !NON_SPACE.test(run.note))
  ) {
    return false;
  }
  for (const prefix of query.julia) {
    if (!matchesVersionPrefix(run.julia_version, prefix)) {
      return false;
    }
  }
  for (const prefix of query.sha) {
    if (
      prefix === null ||
      run.git_sha === null ||
      !run.git_sha.startsWith(prefix) // git writes SHAs in lower case
    ) {
      return false;
    }
  }
  if (query.notebooks.length > 0 || query.words.length > 0) {
    const path = lower(run.notebook_path);
    for (const part of query.notebooks) {
      if (!path.includes(part)) {
        return false;
      }
    }
    if (query.words.length > 0) {
      const note = lower(run.note);
      for (const word of query.words) {
        if (!note.includes(word) && !path.includes(word)) {
          return false;
        }
      }
    }
  }
  if (query.packages.length > 0) {
    if (packages === undefined) {
      return false;
    }
    for (const term of query.packages) {
      if (!anyVersion(packages.get(term.key) ?? [], term.version)) {
        return false;
      }
    }
  }
  return true;
}

interface IToken {
  text: string;
  /** Began with a double quote: a phrase, never a `key:value` term. */
  phrase: boolean;
}

/** Split on white space; double quotes group (an unterminated one runs to the end). */
function tokenize(input: string): IToken[] {
  const tokens: IToken[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    while (i < n && isSpace(input[i])) {
      i++;
    }
    if (i >= n) {
      break;
    }
    const phrase = input[i] === '"';
    let text = '';
    let quoted = false;
    while (i < n && (quoted || !isSpace(input[i]))) {
      if (input[i] === '"') {
        quoted = !quoted;
      } else {
        text += input[i];
      }
      i++;
    }
    tokens.push({ text: phrase ? text.trim() : text, phrase });
  }
  return tokens;
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** Add a `key:value` or `Name@version` term; false when the token is a free word. */
function applyTerm(query: IRunQuery, token: string): boolean {
  const colon = token.indexOf(':');
  if (colon > 0) {
    const key = token.slice(0, colon).toLowerCase();
    const value = token.slice(colon + 1);
    switch (key) {
      case 'pkg':
        if (value === '') {
          return true; // still being typed
        }
        return addPackage(query, value, true);
      case 'julia':
        if (value !== '') {
          query.julia.push(value);
        }
        return true;
      case 'sha':
        if (value === '') {
          return true;
        }
        if (SHA_RE.test(value)) {
          query.sha.push(value.toLowerCase());
        } else {
          query.sha.push(null);
          query.problems.push(
            `sha:${value} — a commit prefix is 4 to 40 hex digits`
          );
        }
        return true;
      case 'nb':
        if (value !== '') {
          query.notebooks.push(value.toLowerCase());
        }
        return true;
      case 'is':
        return setFlag(query, value.toLowerCase(), IS_FLAGS);
      case 'has':
        return setFlag(query, value.toLowerCase(), HAS_FLAGS);
      default:
        return false;
    }
  }
  return token.indexOf('@') > 0 && addPackage(query, token, false);
}

type Flag = 'dirty' | 'clean' | 'global' | 'has_note' | 'has_manifest';

const IS_FLAGS: Record<string, Flag> = {
  dirty: 'dirty',
  clean: 'clean',
  global: 'global'
};
const HAS_FLAGS: Record<string, Flag> = {
  note: 'has_note',
  manifest: 'has_manifest'
};

function setFlag(
  query: IRunQuery,
  value: string,
  flags: Record<string, Flag>
): boolean {
  if (value === '') {
    return true;
  }
  const flag = Object.hasOwn(flags, value) ? flags[value] : undefined;
  if (flag === undefined) {
    return false;
  }
  query[flag] = true;
  return true;
}

/**
 * `Name`, `Name@`, `Name@1.6` (a trailing `.jl` on the name is dropped). Without the
 * `pkg:` key (`bare` false) anything else is a free word; after it, a problem.
 */
function addPackage(query: IRunQuery, text: string, bare: boolean): boolean {
  const at = text.indexOf('@');
  if (at < 0 && !bare) {
    return false;
  }
  let name = at < 0 ? text : text.slice(0, at);
  if (name.endsWith('.jl')) {
    name = name.slice(0, -3);
  }
  const version = at < 0 ? '' : text.slice(at + 1);
  if (
    !NAME_RE.test(name) ||
    (version !== '' && !VERSION_PREFIX_RE.test(version))
  ) {
    if (!bare) {
      return false;
    }
    query.problems.push(`pkg:${text} — not a package name with a version`);
    query.packages.push({ name: text, key: text.toLowerCase(), version: null });
    return true;
  }
  query.packages.push({
    name,
    key: name.toLowerCase(),
    version: version === '' ? null : version
  });
  return true;
}

function anyVersion(
  versions: readonly (string | null)[],
  prefix: string | null
): boolean {
  for (const v of versions) {
    if (prefix === null || (v !== null && matchesVersionPrefix(v, prefix))) {
      return true;
    }
  }
  return false;
}

/** Lower-cased strings, cached so that filtering does not allocate per run. */
const lowered = new Map<string, string>();
const LOWERED_MAX = 50000;

function lower(text: string): string {
  let out = lowered.get(text);
  if (out === undefined) {
    out = text.toLowerCase();
    if (lowered.size >= LOWERED_MAX) {
      lowered.clear();
    }
    lowered.set(text, out);
  }
  return out;
}
