/**
 * The notebook as it is in the editor, as the bytes a save would write.
 *
 * JupyterLab saves a notebook by sending `model.toJSON()` to the contents API; the server
 * (jupyter_server's FileContentsManager → nbformat.write, nbformat/v4/nbjson.py) writes
 * `json.dumps(nb, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)`
 * after `split_lines` and `strip_transient` (nbformat/v4/rwbase.py), then a newline.
 * `serializeNotebook` writes the same bytes from the same JSON (a server test saves
 * through the contents API and compares), so an unedited notebook's bytes equal its file.
 */

/** The notebook JSON a save would write, as UTF-8 bytes. */
export function serializeNotebook(notebook: unknown): Uint8Array {
  return new TextEncoder().encode(notebookText(notebook));
}

/** The text of `serializeNotebook`. */
export function notebookText(notebook: unknown): string {
  const nb = stripTransient(splitLines(clone(notebook)));
  const text = dump(nb, '');
  return text.endsWith('\n') ? text : text + '\n';
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function clone(value: unknown): any {
  return JSON.parse(JSON.stringify(value ?? null));
}

/** Python's str.splitlines(True): every line boundary Python knows, ends kept. */
export function pySplitLines(text: string): string[] {
  const lines: string[] = [];
  const boundary = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;
  let start = 0;
  for (let m = boundary.exec(text); m; m = boundary.exec(text)) {
    lines.push(text.slice(start, m.index + m[0].length));
    start = m.index + m[0].length;
  }
  if (start < text.length) {
    lines.push(text.slice(start));
  }
  return lines;
}

const NON_TEXT_SPLIT = new Set(['application/javascript', 'image/svg+xml']);

function splitBundle(data: unknown): void {
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    return;
  }
  const bundle = data as Record<string, unknown>;
  for (const [key, value] of Object.entries(bundle)) {
    if (
      typeof value === 'string' &&
      (key.startsWith('text/') || NON_TEXT_SPLIT.has(key))
    ) {
      bundle[key] = pySplitLines(value);
    }
  }
}

function splitLines(nb: any): any {
  for (const cell of nb?.cells ?? []) {
    if (typeof cell.source === 'string') {
      cell.source = pySplitLines(cell.source);
    }
    for (const attachment of Object.values(cell.attachments ?? {})) {
      splitBundle(attachment);
    }
    if (cell.cell_type === 'code') {
      for (const output of cell.outputs ?? []) {
        if (
          output.output_type === 'execute_result' ||
          output.output_type === 'display_data'
        ) {
          splitBundle(output.data ?? {});
        } else if (
          output.output_type === 'stream' &&
          typeof output.text === 'string'
        ) {
          output.text = pySplitLines(output.text);
        }
      }
    }
  }
  return nb;
}

function stripTransient(nb: any): any {
  if (nb?.metadata) {
    delete nb.metadata.orig_nbformat;
    delete nb.metadata.orig_nbformat_minor;
    delete nb.metadata.signature;
  }
  for (const cell of nb?.cells ?? []) {
    if (cell.metadata) {
      delete cell.metadata.trusted;
    }
  }
  return nb;
}

/** Python's sort of str keys: by code point (JavaScript's sort is by UTF-16 unit). */
function byCodePoint(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) {
      return d;
    }
  }
  return x.length - y.length;
}

/**
 * A number as Python's json writes what it read from JavaScript's JSON: an integer
 * JavaScript writes without '.' or 'e' stays an int, anything else is a float in repr
 * form (exponent when < -4 or >= 16, at least two exponent digits).
 */
export function pyNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) {
    return String(n);
  }
  const [mantissa, exp] = n.toExponential().split('e');
  const e = Number(exp);
  if (e >= -4 && e < 16) {
    const digits = mantissa.replace('-', '').replace('.', '');
    const sign = n < 0 ? '-' : '';
    let text: string;
    if (e < 0) {
      text = '0.' + '0'.repeat(-e - 1) + digits;
    } else if (digits.length > e + 1) {
      text = digits.slice(0, e + 1) + '.' + digits.slice(e + 1);
    } else {
      text = digits + '0'.repeat(e + 1 - digits.length) + '.0';
    }
    return sign + text;
  }
  const sign = e < 0 ? '-' : '+';
  return `${mantissa}e${sign}${String(Math.abs(e)).padStart(2, '0')}`;
}

function dump(value: Json, indent: string): string {
  if (value === null || typeof value === 'boolean') {
    return String(value);
  }
  if (typeof value === 'number') {
    return pyNumber(value);
  }
  if (typeof value === 'string') {
    return JSON.stringify(value);
  }
  const inner = indent + ' ';
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return '[]';
    }
    return `[\n${value.map(v => inner + dump(v, inner)).join(',\n')}\n${indent}]`;
  }
  const keys = Object.keys(value).sort(byCodePoint);
  if (keys.length === 0) {
    return '{}';
  }
  return `{\n${keys
    .map(k => `${inner}${JSON.stringify(k)}: ${dump(value[k], inner)}`)
    .join(',\n')}\n${indent}}`;
}
