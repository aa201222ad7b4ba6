import {
  compareVersions,
  matchesVersionPrefix,
  parseVersion
} from '../manifest/version';

describe('parseVersion', () => {
  it('reads Julia version numbers', () => {
    expect(parseVersion('1.2.3')).toEqual({
      major: 1,
      minor: 2,
      patch: 3,
      prerelease: [],
      build: []
    });
    expect(parseVersion('v1.6')).toMatchObject({
      major: 1,
      minor: 6,
      patch: 0
    });
    expect(parseVersion('1.13.0-DEV.1234')).toMatchObject({
      prerelease: ['DEV', 1234]
    });
    expect(parseVersion('1.0.0-rc1+build.7')).toMatchObject({
      prerelease: ['rc1'],
      build: ['build', 7]
    });
    expect(parseVersion('1.0.0+0')).toMatchObject({ build: [0] });
  });

  it('rejects what is not one', () => {
    for (const text of [
      '',
      'abc',
      '1.2.3.4',
      '1..2',
      '1.2.3-',
      '1.2.3+',
      '-1.0.0'
    ]) {
      expect(parseVersion(text)).toBeNull();
    }
  });
});

describe('compareVersions', () => {
  // Each is less than the next, as Julia's isless orders them.
  const ordered = [
    '0.0.0',
    '0.0.1',
    '0.1.0',
    '0.9.0',
    '0.10.0',
    '1.0.0-DEV',
    '1.0.0-alpha',
    '1.0.0-rc1',
    '1.0.0-rc10', // "rc10" is a word: compared as text, as Julia does
    '1.0.0-rc2',
    '1.0.0',
    '1.0.0+0',
    '1.0.0+1',
    '1.2.3',
    '1.10.0',
    '2.0.0'
  ];

  it('orders as Julia does', () => {
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect([
          ordered[i],
          ordered[j],
          Math.sign(compareVersions(ordered[i], ordered[j]))
        ]).toEqual([ordered[i], ordered[j], Math.sign(i - j)]);
      }
    }
  });

  it('compares numeric identifiers as numbers, before words', () => {
    expect(compareVersions('1.0.0-2', '1.0.0-10')).toBeLessThan(0);
    expect(compareVersions('1.0.0-2', '1.0.0-a')).toBeLessThan(0);
    expect(compareVersions('1.0.0-DEV.9', '1.0.0-DEV.10')).toBeLessThan(0);
    expect(compareVersions('1.0.0-rc.1', '1.0.0-rc.1.1')).toBeLessThan(0);
  });

  it('treats a missing minor or patch as 0', () => {
    expect(compareVersions('1.6', '1.6.0')).toBe(0);
    expect(compareVersions('v1', '1.0.0')).toBe(0);
  });

  it('sorts text that is not a version after every version', () => {
    expect(compareVersions('1.0.0', 'nightly')).toBeLessThan(0);
    expect(compareVersions('nightly', '99.0.0')).toBeGreaterThan(0);
    expect(compareVersions('a', 'b')).toBeLessThan(0);
    expect(compareVersions('b', 'b')).toBe(0);
  });

  it('sorts a list', () => {
    expect(
      ['1.10.0', '1.9.3', '1.10.0-rc1', '1.6.7'].sort(compareVersions)
    ).toEqual(['1.6.7', '1.9.3', '1.10.0-rc1', '1.10.0']);
  });
});

describe('matchesVersionPrefix', () => {
  it.each([
    ['1.6.0', '1.6', true],
    ['1.6.12', '1.6', true],
    ['1.6.0-rc1', '1.6', true],
    ['1.60.0', '1.6', false],
    ['1.5.4', '1.6', false],
    ['1.11.2', '1', true],
    ['10.0.0', '1', false],
    ['1.6.2', '1.6.2', true],
    ['1.6.2+0', '1.6.2', true],
    ['1.6.20', '1.6.2', false],
    ['1.6.0-rc1', '1.6.0-rc1', true],
    ['1.6.0-rc10', '1.6.0-rc1', false],
    ['1.6.3', '1.6.', true],
    ['1.6.3', 'v1.6', true],
    ['v1.6.3', '1.6', true],
    ['1.6.3', '', true],
    ['1.6', '1.6.0', false],
    ['0.21.4', '1', false]
  ])('%s with prefix %j: %s', (version, prefix, expected) => {
    expect(matchesVersionPrefix(version, prefix)).toBe(expected);
  });
});
