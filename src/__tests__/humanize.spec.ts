import {
  fullTime,
  humanSize,
  relativeTime,
  shortHash,
  shortJulia,
  writeCause
} from '../widgets/humanize';

describe('relativeTime', () => {
  const now = new Date(2026, 11, 4, 18, 30, 0); // local time: Dec 4, 2026, 18:30
  const at = (y: number, m: number, d: number, h = 0, min = 0, s = 0) =>
    new Date(y, m, d, h, min, s).toISOString();

  it('says minutes and hours the same day', () => {
    expect(relativeTime(at(2026, 11, 4, 18, 29, 50), now, 'en')).toBe('now');
    expect(relativeTime(at(2026, 11, 4, 18, 27), now, 'en')).toBe('3 min. ago');
    expect(relativeTime(at(2026, 11, 4, 16, 0), now, 'en')).toBe('2 hr. ago');
  });

  it('says yesterday for the calendar day before, days within a week, then a date', () => {
    expect(relativeTime(at(2026, 11, 3, 9, 0), now, 'en')).toBe('yesterday');
    expect(relativeTime(at(2026, 11, 1, 9, 0), now, 'en')).toBe('3 days ago');
    expect(relativeTime(at(2026, 10, 20, 9, 0), now, 'en')).toBe('Nov 20');
    expect(relativeTime(at(2025, 10, 20, 9, 0), now, 'en')).toBe(
      'Nov 20, 2025'
    );
  });

  it('across midnight: hours within six hours, yesterday past that', () => {
    const night = new Date(2026, 11, 4, 3, 0);
    expect(relativeTime(at(2026, 11, 3, 23, 0), night, 'en')).toBe('4 hr. ago');
    const morning = new Date(2026, 11, 4, 9, 0);
    expect(relativeTime(at(2026, 11, 4, 1, 0), morning, 'en')).toBe(
      '8 hr. ago'
    );
    expect(relativeTime(at(2026, 11, 3, 23, 0), morning, 'en')).toBe(
      'yesterday'
    );
  });

  it("speaks the translator's language", () => {
    expect(relativeTime(at(2026, 11, 3, 9, 0), now, 'de')).toBe('gestern');
    expect(relativeTime(at(2026, 11, 4, 18, 27), now, 'fr')).toMatch(
      /^il y a 3\smin$/
    );
  });

  it('keeps a time it cannot read, and a time in the future is a date', () => {
    expect(relativeTime('not a time', now, 'en')).toBe('not a time');
    expect(relativeTime(at(2026, 11, 5, 9, 0), now, 'en')).toBe('Dec 5');
  });

  it('the full time names the day, the date and the seconds', () => {
    const full = fullTime(at(2026, 11, 3, 9, 5), 'en');
    expect(full).toContain('Thursday, December 3, 2026');
    expect(full).toContain('9:05:00');
  });
});

describe('humanSize', () => {
  it('uses decimal units with one decimal below 100', () => {
    expect(humanSize(0, 'en')).toBe('0 bytes');
    expect(humanSize(1, 'en')).toBe('1 byte');
    expect(humanSize(999, 'en')).toBe('999 bytes');
    expect(humanSize(1234, 'en')).toBe('1.2 kB');
    expect(humanSize(1_234_567, 'en')).toBe('1.2 MB');
    expect(humanSize(123_456_789, 'en')).toBe('123 MB');
    expect(humanSize(5e9, 'en')).toBe('5 GB');
  });
});

describe('shortHash and shortJulia', () => {
  it('cuts a hex hash to 12 digits and leaves anything else', () => {
    const sha = 'ab'.repeat(32);
    expect(shortHash(sha)).toBe('abababababab');
    expect(shortHash(sha, 7)).toBe('abababa');
    expect(shortHash('not hex')).toBe('not hex');
  });

  it('drops the word Julia from a version', () => {
    expect(shortJulia('Julia 1.10.4')).toBe('1.10.4');
    expect(shortJulia('1.12.0-rc1')).toBe('1.12.0-rc1');
    expect(shortJulia('v1.5.3')).toBe('1.5.3');
  });
});

describe('writeCause', () => {
  it("is the first sentence of the server's reason when it names a file system cause", () => {
    const error = Object.assign(
      new Error(
        'Cannot write the store at .deardiary/deardiary.sqlite: permission denied. Give the user that runs Jupyter write access there.'
      ),
      { code: 'store_not_writable' }
    );
    expect(writeCause(error)).toBe(
      'Cannot write the store at .deardiary/deardiary.sqlite: permission denied.'
    );
    expect(
      writeCause(Object.assign(new Error('boom'), { code: 'internal_error' }))
    ).toBeNull();
    expect(writeCause(null)).toBeNull();
  });
});
