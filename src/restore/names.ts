/**
 * File names that stay where they are joined, on every system. A store may come from
 * someone else: the snippet and the workspace layout accept only these.
 */

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
