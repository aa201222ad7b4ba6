/**
 * Times, sizes and hashes as a person reads them: "3 min ago", "yesterday", "1.2 MB",
 * "3f2a9c01b7e4" (the full value stays in a title or the clipboard). No DOM here.
 */

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The calendar days between two local dates (0: the same day, 1: yesterday). */
function calendarDays(date: Date, now: Date): number {
  const start = (d: Date) =>
    new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  return Math.round((start(now) - start(date)) / DAY);
}

/**
 * When `iso` was, relative to `now` in the language `language` (a BCP 47 tag, the
 * translator's): "now", "3 min. ago", "2 hr. ago", "yesterday", "3 days ago"; older than a
 * week (or in the future), a short date. An unreadable time is returned as it is.
 */
export function relativeTime(
  iso: string,
  now: Date = new Date(),
  language?: string
): string {
  const date = new Date(iso);
  const time = date.getTime();
  if (Number.isNaN(time)) {
    return iso;
  }
  const ago = now.getTime() - time;
  const rtf = new Intl.RelativeTimeFormat(language, {
    numeric: 'auto',
    style: 'short'
  });
  const days = calendarDays(date, now);
  if (ago < -MINUTE || days >= 7) {
    return date.toLocaleDateString(language, {
      year: date.getFullYear() === now.getFullYear() ? undefined : 'numeric',
      month: 'short',
      day: 'numeric'
    });
  }
  if (ago < MINUTE) {
    return rtf.format(0, 'second');
  }
  if (ago < HOUR) {
    return rtf.format(-Math.floor(ago / MINUTE), 'minute');
  }
  if (days === 0 || ago < 6 * HOUR) {
    return rtf.format(-Math.floor(ago / HOUR), 'hour');
  }
  return rtf.format(-days, 'day');
}

/** The full local date and time (the title of a relative time). */
export function fullTime(iso: string, language?: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(language, { dateStyle: 'full', timeStyle: 'medium' });
}

const UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'];

/** A size in decimal units, as file managers show it: "512 bytes", "1.2 MB", "3 GB". */
export function humanSize(bytes: number, language?: string): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return new Intl.NumberFormat(language, {
    style: 'unit',
    unit: UNITS[unit],
    unitDisplay: unit === 0 ? 'long' : 'short',
    maximumFractionDigits: unit === 0 || value >= 100 ? 0 : 1
  }).format(value);
}

/** How many hex digits a short hash shows (git's --short is 7; 12 stays unique in a store). */
export const SHORT_HASH = 12;

/** The first SHORT_HASH hex digits of a hash (anything else is returned as it is). */
export function shortHash(hash: string, length = SHORT_HASH): string {
  return /^[0-9a-f]+$/i.test(hash) ? hash.slice(0, length) : hash;
}

/** The Julia version, short: "1.10.4" of "Julia 1.10.4", "1.10.4-DEV" stays. */
export function shortJulia(version: string): string {
  return version.replace(/^julia\s*/i, '').replace(/^v(?=\d)/, '');
}

/**
 * What a toast shows first when the server could not write a run: the first sentence of
 * its reason ("Cannot write the store at .deardiary/deardiary.sqlite: permission denied.")
 * when it named a file system cause (errors.py unexpected_error), else null.
 */
export function writeCause(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'store_not_writable' && code !== 'not_writable') {
    return null;
  }
  const message = String((error as Error).message ?? '');
  const end = message.search(/\.(\s|$)/);
  return end < 0 ? message : message.slice(0, end + 1);
}
