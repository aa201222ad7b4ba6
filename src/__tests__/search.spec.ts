import {
  ISearchableRun,
  matchRun,
  parseQuery,
  QUERY_HELP,
  RunPackages
} from '../manifest/search';

/** A manifest's packages as the store's index gives them: lower-cased name -> versions. */
function pkgs(entries: [string, string | null][]): RunPackages {
  const map = new Map<string, (string | null)[]>();
  for (const [name, version] of entries) {
    const key = name.toLowerCase();
    map.set(key, [...(map.get(key) ?? []), version]);
  }
  return map;
}

function run(extra: Partial<ISearchableRun> = {}): ISearchableRun {
  return {
    id: 1,
    snapshot_id: 's1',
    number: 1,
    notebook_path: 'analysis/Growth Curves.ipynb',
    trigger: 'button',
    status: 'ok',
    note: 'Baseline before the DataFrames upgrade',
    created_at: '2025-01-02T03:04:05Z',
    julia_version: '1.10.4',
    git_sha: '0123456789abcdef0123456789abcdef01234567',
    git_dirty: false,
    is_global_env: false,
    has_manifest: true,
    parent_id: null,
    manifest_sha256: 'f'.repeat(64),
    project_sha256: 'e'.repeat(64),
    manifest_name: 'Manifest.toml',
    project_path: '/home/me/analysis/Project.toml',
    notebook_unsaved: false,
    has_patch: false,
    patch_truncated: false,
    packages: pkgs([
      ['DataFrames', '1.6.1'],
      ['CSV', '0.10.14'],
      ['Dates', null],
      ['JSON', '0.21.4']
    ]),
    ...extra
  } as ISearchableRun;
}

const matches = (query: string, r: ISearchableRun = run()) =>
  matchRun(r, parseQuery(query));

describe('parseQuery', () => {
  it('reads every kind of term', () => {
    expect(
      parseQuery(
        'Growth "before the" DataFrames@1.6 pkg:CSV julia:1.10 sha:0123AB nb:analysis/ is:dirty is:global has:note'
      )
    ).toEqual({
      words: ['growth', 'before the'],
      notebooks: ['analysis/'],
      packages: [
        { name: 'DataFrames', key: 'dataframes', version: '1.6' },
        { name: 'CSV', key: 'csv', version: null }
      ],
      julia: ['1.10'],
      sha: ['0123ab'],
      dirty: true,
      clean: false,
      global: true,
      has_note: true,
      has_manifest: false,
      problems: [],
      empty: false
    });
  });

  it('is empty for blank input and for half-typed keys', () => {
    for (const input of [
      '',
      '   ',
      'julia:',
      'sha:',
      'nb:',
      'pkg:',
      'is:',
      'has:',
      '""'
    ]) {
      expect(parseQuery(input).empty).toBe(true);
    }
  });

  it('treats unknown keys and values as free words', () => {
    const q = parseQuery('foo:bar is:weird has:cake C:\\data');
    expect(q.words).toEqual(['foo:bar', 'is:weird', 'has:cake', 'c:\\data']);
    expect(q.dirty || q.global || q.has_note).toBe(false);
  });

  it('reads quoted phrases, key values with spaces, and an unterminated quote', () => {
    expect(parseQuery('"is:dirty"').words).toEqual(['is:dirty']);
    expect(parseQuery('nb:"My Notebooks/" x').notebooks).toEqual([
      'my notebooks/'
    ]);
    expect(parseQuery('"half typed').words).toEqual(['half typed']);
    expect(parseQuery('a  "b  c"d').words).toEqual(['a', 'b  cd']);
  });

  it('reads package terms: Name@, Name@ver, Name.jl@ver, pkg:Name@ver', () => {
    expect(parseQuery('DataFrames@ JSON.jl@1 pkg:CSV@0.10').packages).toEqual([
      { name: 'DataFrames', key: 'dataframes', version: null },
      { name: 'JSON', key: 'json', version: '1' },
      { name: 'CSV', key: 'csv', version: '0.10' }
    ]);
    // Not a package name: a free word (an e-mail address in a note, say).
    expect(parseQuery('me@example.org @1.6').words).toEqual([
      'me@example.org',
      '@1.6'
    ]);
    expect(parseQuery('me@example.org').packages).toEqual([]);
  });

  it('flags an invalid sha prefix and a bad package name', () => {
    const q = parseQuery('sha:abc sha:xyz12 pkg:not-a-name');
    expect(q.sha).toEqual([null, null]);
    expect(q.problems).toHaveLength(3);
    expect(q.problems[0]).toMatch(/^sha:abc — /);
    expect(q.empty).toBe(false);
  });

  it('has help lines for the sidebar', () => {
    expect(QUERY_HELP.length).toBeGreaterThan(5);
    for (const [example] of QUERY_HELP) {
      for (const term of example
        .split(/\s+/)
        .filter(t => t !== '"a' && t !== 'phrase"')) {
        // Each example parses to a real term, never to nothing.
        expect(parseQuery(term).empty).toBe(false);
      }
    }
  });
});

describe('matchRun', () => {
  it('matches everything with an empty query', () => {
    expect(matches('')).toBe(true);
    expect(matches('', run({ note: '', packages: undefined }))).toBe(true);
  });

  it('matches free words in the note or the notebook path, all of them, any case', () => {
    expect(matches('baseline')).toBe(true);
    expect(matches('growth')).toBe(true);
    expect(matches('BASELINE growth')).toBe(true);
    expect(matches('baseline nothere')).toBe(false);
    expect(matches('"before the dataframes"')).toBe(true);
    expect(matches('"the before"')).toBe(false);
  });

  it('matches packages with a version prefix', () => {
    expect(matches('DataFrames@1.6')).toBe(true);
    expect(matches('DataFrames@1')).toBe(true);
    expect(matches('DataFrames@1.6.1')).toBe(true);
    expect(matches('dataframes@1.6')).toBe(true);
    expect(matches('DataFrames@1.60')).toBe(false);
    expect(matches('DataFrames@1.5')).toBe(false);
    expect(matches('JSON@0.21')).toBe(true);
    expect(matches('JSON@1')).toBe(false);
    expect(matches('pkg:csv')).toBe(true);
    expect(matches('pkg:Dates')).toBe(true);
    expect(matches('Dates@1.10')).toBe(false); // a stdlib without a recorded version
    expect(matches('pkg:Plots')).toBe(false);
    expect(matches('DataFrames@1.6 pkg:Plots')).toBe(false);
    // Unknown packages (not loaded by the caller) match no package term.
    expect(matches('pkg:CSV', run({ packages: undefined }))).toBe(false);
    // The packages may come as a separate argument.
    const bare = run({ packages: undefined });
    expect(matchRun(bare, parseQuery('DataFrames@1.6'), run().packages)).toBe(
      true
    );
    expect(matchRun(bare, parseQuery('DataFrames@1.6'))).toBe(false);
    // A bare word is not a package term.
    expect(matches('CSV')).toBe(false);
  });

  it('matches a package listed under two spellings of one name', () => {
    const packages = pkgs([
      ['Foo', '1.0.0'],
      ['foo', '2.0.0']
    ]);
    expect(matches('Foo@2', run({ packages }))).toBe(true);
    expect(matches('FOO@1', run({ packages }))).toBe(true);
    expect(matches('Foo@3', run({ packages }))).toBe(false);
  });

  it('matches julia:, sha: and nb:', () => {
    expect(matches('julia:1.10')).toBe(true);
    expect(matches('julia:1.10.4')).toBe(true);
    expect(matches('julia:1.1')).toBe(false);
    expect(matches('julia:1')).toBe(true);
    expect(matches('sha:0123')).toBe(true);
    expect(matches('sha:0123ABCD')).toBe(false);
    expect(matches('sha:01234567')).toBe(true);
    expect(matches('sha:abc')).toBe(false); // too short: no match, and a problem
    expect(matches('sha:0123', run({ git_sha: null }))).toBe(false);
    expect(matches('nb:ANALYSIS/growth')).toBe(true);
    expect(matches('nb:baseline')).toBe(false); // nb: looks at the path only
    expect(matches('nb:"growth curves"')).toBe(true);
  });

  it('matches flags', () => {
    expect(matches('is:dirty')).toBe(false);
    expect(matches('is:dirty', run({ git_dirty: true }))).toBe(true);
    expect(matches('is:clean')).toBe(true);
    expect(matches('is:clean', run({ git_dirty: null }))).toBe(false);
    expect(matches('is:dirty', run({ git_dirty: null }))).toBe(false);
    expect(matches('is:global')).toBe(false);
    expect(matches('is:global', run({ is_global_env: true }))).toBe(true);
    expect(matches('has:note')).toBe(true);
    expect(matches('has:note', run({ note: '  \n' }))).toBe(false);
    expect(matches('has:manifest')).toBe(true);
    expect(matches('has:manifest', run({ has_manifest: false }))).toBe(false);
    expect(matches('IS:DIRTY', run({ git_dirty: true }))).toBe(true);
  });

  it('treats an unknown key as a free word', () => {
    expect(matches('foo:bar', run({ note: 'see foo:bar' }))).toBe(true);
    expect(matches('foo:bar')).toBe(false);
  });

  it('sees an edited note (no stale cache)', () => {
    const r = run();
    const q = parseQuery('revised');
    expect(matchRun(r, q)).toBe(false);
    r.note = 'Revised note';
    expect(matchRun(r, q)).toBe(true);
  });

  it('filters 10,000 runs over 300 environments', () => {
    const environments = Array.from({ length: 300 }, (_, e) => {
      const entries: [string, string][] = [];
      for (let i = 0; i < 400; i++) {
        entries.push([
          `Package${(i * 7 + e) % 1000}`,
          `${i % 3}.${(i + e) % 13}.${e % 7}`
        ]);
      }
      entries.push(['DataFrames', `1.${e % 8}.${e % 5}`]);
      return pkgs(entries);
    });
    const runs = Array.from({ length: 10000 }, (_, i) =>
      run({
        id: i,
        number: i,
        note: i % 3 === 0 ? `run ${i}: tried the solver again` : '',
        notebook_path: `project${i % 40}/notebook ${i % 250}.ipynb`,
        julia_version: ['1.10.4', '1.11.2', '1.12.0'][i % 3],
        git_sha: (i * 2654435761).toString(16).padStart(40, '0'),
        git_dirty: i % 5 === 0,
        packages: environments[i % 300]
      })
    );
    const queries = [
      'DataFrames@1.6',
      'solver julia:1.10 is:dirty',
      'nb:project1 is:dirty',
      'sha:0000 pkg:Package3',
      '"tried the" has:note DataFrames@1'
    ];
    const counts = queries.map(text => {
      const query = parseQuery(text);
      let n = 0;
      for (const r of runs) {
        if (matchRun(r, query)) {
          n++;
        }
      }
      return n;
    });
    // The expected counts from the fixture's formulas on the run index i alone (none of
    // the product's parsing or matching): environment e = i % 300, a note on every 3rd
    // run (whose Julia is then 1.10.4), dirty every 5th, notebook folder project<i % 40>,
    // a SHA of at most 12 hex digits padded with zeros to 40.
    const count = (pred: (i: number) => boolean) =>
      Array.from({ length: 10000 }, (_, i) => i).filter(pred).length;
    // Package3 is in environment e when (k * 7 + e) % 1000 === 3 for some k < 400.
    const hasPackage3 = (e: number) =>
      Array.from({ length: 400 }, (_, k) => k).some(
        k => (k * 7 + e) % 1000 === 3
      );
    const expected = [
      count(i => (i % 300) % 8 === 6), // DataFrames 1.<e % 8>.x: 1.6 only
      count(i => i % 3 === 0 && i % 5 === 0),
      // project1, project10 ... project19 contain "project1"
      count(
        i => (i % 40 === 1 || (i % 40 >= 10 && i % 40 <= 19)) && i % 5 === 0
      ),
      count(i => hasPackage3(i % 300)), // not Package30..39 or Package300..399
      count(i => i % 3 === 0)
    ];
    // The same numbers written out, so that no count can agree with an oracle that is
    // itself 0 or "every run".
    expect(expected).toEqual([1233, 667, 500, 3330, 3334]);
    expect(counts).toEqual(expected);
  });
});
