import * as fs from 'fs';
import * as path from 'path';
import {
  compareRuns,
  diffManifests,
  IPackageChange,
  IRunEnvironment
} from '../manifest/diff';
import { decodeText, parseManifest, parseProject } from '../manifest/parse';

const FIXTURES = path.join(__dirname, 'fixtures', 'manifests');

function fixture(relative: string): string {
  return decodeText(
    new Uint8Array(fs.readFileSync(path.join(FIXTURES, relative)))
  );
}

function environment(
  dir: string,
  extra: Partial<IRunEnvironment> = {}
): IRunEnvironment {
  return {
    julia_version: '1.10.0',
    git_sha: null,
    git_dirty: null,
    project: parseProject(fixture(`${dir}/Project.toml`)),
    manifest: parseManifest(fixture(`${dir}/Manifest.toml`)),
    ...extra
  };
}

function names(
  changes: IPackageChange[],
  kind: IPackageChange['kind']
): string[] {
  return changes.filter(c => c.kind === kind).map(c => c.name);
}

function find(changes: IPackageChange[], name: string): IPackageChange {
  const found = changes.filter(c => c.name === name);
  expect(found).toHaveLength(1);
  return found[0];
}

const U1 = '11111111-1111-1111-1111-111111111111';
const U2 = '22222222-2222-2222-2222-222222222222';
const U3 = '33333333-3333-3333-3333-333333333333';

describe('diffManifests on fixtures', () => {
  it('covid19 ce2c972 → e67d2e2 (v1): +43 −6, 14 upgraded, 1 downgraded; Project +Gadfly −Query', () => {
    const result = compareRuns(
      environment('two-commits-covid19/ce2c972'),
      environment('two-commits-covid19/e67d2e2')
    );
    expect(result.packages_compared).toBe(true);
    expect(result.counts).toEqual({
      added: 43,
      removed: 6,
      upgraded: 14,
      downgraded: 1,
      'source-changed': 0
    });
    expect(result.project_deps).toEqual({
      added: ['Gadfly'],
      removed: ['Query']
    });
    expect(find(result.packages, 'CategoricalArrays')).toEqual({
      name: 'CategoricalArrays',
      uuid: expect.any(String),
      kind: 'downgraded',
      before_version: '0.9.0',
      after_version: '0.8.3',
      source_changed: false,
      details: ['breaking version change']
    });
    expect(names(result.packages, 'removed')).toEqual([
      'DataValues',
      'IterableTables',
      'Query',
      'QueryOperators',
      'TableShowUtils',
      'TableTraitsUtils'
    ]);
    expect(find(result.packages, 'Gadfly')).toMatchObject({
      kind: 'added',
      before_version: null,
      after_version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      details: []
    });
    expect(find(result.packages, 'DataFrames')).toMatchObject({
      kind: 'upgraded',
      before_version: '0.22.2',
      after_version: '0.22.5',
      details: []
    });
    expect(find(result.packages, 'Reexport').details).toEqual([
      'breaking version change'
    ]);
  });

  it('herb c7532fa → d653e1b (2.0): +1 −6, 4 upgraded, 2 repo-url packages source-changed', () => {
    const before = environment('two-commits-herb/c7532fa');
    const after = environment('two-commits-herb/d653e1b');
    const changes = diffManifests(before.manifest!, after.manifest!);
    expect(names(changes, 'added')).toEqual(['StructUtils']);
    expect(names(changes, 'removed')).toEqual([
      'CodeTracking',
      'Compiler',
      'FilePathsBase',
      'JuliaInterpreter',
      'LoweredCodeUtils',
      'Revise'
    ]);
    expect(names(changes, 'upgraded')).toEqual([
      'HerbConstraints',
      'HerbCore',
      'HerbGrammar',
      'JSON'
    ]);
    expect(find(changes, 'JSON')).toMatchObject({
      before_version: '0.21.4',
      after_version: '1.4.0',
      source_changed: false,
      details: ['breaking version change']
    });
    expect(names(changes, 'downgraded')).toEqual([]);
    expect(names(changes, 'source-changed')).toEqual([
      'HerbBenchmarks',
      'HerbSearch'
    ]);
    expect(find(changes, 'HerbBenchmarks')).toEqual({
      name: 'HerbBenchmarks',
      uuid: 'eadf8b74-d38a-4b1a-a063-8d36e493d376',
      kind: 'source-changed',
      before_version: '0.2.3',
      after_version: '0.2.3',
      source_changed: true,
      details: [
        expect.stringMatching(/^git-tree-sha1: 15b7b307b7 → [0-9a-f]{10}$/),
        'repo-url: https://github.com/Herb-AI/HerbBenchmarks.jl.git → https://github.com/Herb-AI/HerbBenchmarks.jl'
      ]
    });
    expect(find(changes, 'HerbSearch').details).toEqual([
      expect.stringMatching(/^git-tree-sha1: ec6d5753e0 → [0-9a-f]{10}$/)
    ]);
    // The Project gained [sources] but its deps did not change.
    expect(compareRuns(before, after).project_deps).toEqual({
      added: [],
      removed: []
    });
  });

  it('CGcoefficient across the v1 → 2.0 format change: +Primes +SHA −Distributed −Sockets', () => {
    const result = compareRuns(
      environment('format-migration-cgcoefficient/149f1e5', {
        julia_version: '1.6.1'
      }),
      environment('format-migration-cgcoefficient/446597c', {
        julia_version: '1.7.1'
      })
    );
    expect(
      result.packages.map(c => [
        c.kind,
        c.name,
        c.after_version ?? c.before_version,
        c.details
      ])
    ).toEqual([
      ['added', 'Primes', '0.5.1', []],
      ['added', 'SHA', null, ['stdlib']],
      ['removed', 'Distributed', null, ['stdlib']],
      ['removed', 'Sockets', null, ['stdlib']]
    ]);
    expect(result.project_deps).toEqual({ added: ['Primes'], removed: [] });
    expect(result.julia).toEqual({
      before: '1.6.1',
      after: '1.7.1',
      changed: true
    });
  });

  it('finds nothing between a manifest and itself, and lists all from an empty one', () => {
    const large = parseManifest(fixture('large-sciml-pinn/Manifest.toml'));
    expect(diffManifests(large, large)).toEqual([]);
    const empty = parseManifest(
      fixture('edge-empty/v2-grothcrypto/Manifest.toml')
    );
    const added = diffManifests(empty, large);
    expect(added).toHaveLength(423);
    expect(added.every(c => c.kind === 'added')).toBe(true);
    expect(find(added, 'SuiteSparse').details).toEqual(['stdlib']);
    expect(diffManifests(large, empty).every(c => c.kind === 'removed')).toBe(
      true
    );
  });

  it('describes path and repo-url packages that come and go', () => {
    const kora = parseManifest(
      fixture('path-dev-kora-dashboard/Manifest.toml')
    );
    const grpc = parseManifest(fixture('repo-url-v1-grpc/Manifest.toml'));
    const changes = diffManifests(grpc, kora);
    expect(find(changes, 'Kora')).toMatchObject({
      kind: 'added',
      details: ['path ../Kora.jl']
    });
    expect(find(changes, 'HTTP2')).toMatchObject({
      kind: 'removed',
      before_version: '0.0.0',
      details: ['repo-url https://github.com/2HgO/HTTP2.jl (master)']
    });
  });
});

describe('diffManifests, hand-made', () => {
  const manifest = (entries: string) =>
    parseManifest(`manifest_format = "2.0"\n${entries}`);

  it('keys by UUID: two packages under one name are two packages', () => {
    const before = manifest(`
[[deps.Foo]]
uuid = "${U1}"
version = "1.0.0"
git-tree-sha1 = "a1"

[[deps.Foo]]
uuid = "${U2}"
version = "2.0.0"
git-tree-sha1 = "b1"
`);
    const after = manifest(`
[[deps.Foo]]
uuid = "${U2}"
version = "2.1.0"
git-tree-sha1 = "b2"

[[deps.Foo]]
uuid = "${U3}"
version = "0.1.0"
git-tree-sha1 = "c1"
`);
    expect(
      diffManifests(before, after).map(c => [
        c.kind,
        c.name,
        c.uuid,
        c.before_version,
        c.after_version
      ])
    ).toEqual([
      ['added', 'Foo', U3, null, '0.1.0'],
      ['removed', 'Foo', U1, '1.0.0', null],
      ['upgraded', 'Foo', U2, '2.0.0', '2.1.0']
    ]);
  });

  it('sees path packages: a path change is a source change, with or without a version change', () => {
    const before = manifest(`
[[deps.Dev]]
uuid = "${U1}"
version = "0.1.0"
path = "../Dev.jl"

[[deps.Moved]]
uuid = "${U2}"
version = "1.0.0"
path = "dev/Moved"

[[deps.Same]]
uuid = "${U3}"
version = "1.0.0"
path = "."
`);
    const after = manifest(`
[[deps.Dev]]
uuid = "${U1}"
version = "0.2.0"
path = "/home/me/.julia/dev/Dev"

[[deps.Moved]]
uuid = "${U2}"
version = "1.0.0"
git-tree-sha1 = "0123456789abcdef0123456789abcdef01234567"

[[deps.Same]]
uuid = "${U3}"
version = "1.0.0"
path = "."
`);
    expect(diffManifests(before, after)).toEqual([
      {
        name: 'Dev',
        uuid: U1,
        kind: 'upgraded',
        before_version: '0.1.0',
        after_version: '0.2.0',
        source_changed: true,
        details: [
          'breaking version change',
          'path: ../Dev.jl → /home/me/.julia/dev/Dev'
        ]
      },
      {
        name: 'Moved',
        uuid: U2,
        kind: 'source-changed',
        before_version: '1.0.0',
        after_version: '1.0.0',
        source_changed: true,
        details: ['git-tree-sha1: none → 0123456789', 'path: dev/Moved → none']
      }
    ]);
  });

  it('counts a version change of a repo-url package with a new repo-rev as a source change', () => {
    const before = manifest(`
[[deps.Br]]
uuid = "${U1}"
version = "1.0.0"
git-tree-sha1 = "aa"
repo-url = "https://example.org/Br.jl"
repo-rev = "main"
`);
    const after = manifest(`
[[deps.Br]]
uuid = "${U1}"
version = "1.0.1"
git-tree-sha1 = "bb"
repo-url = "https://example.org/Br.jl"
repo-rev = "fix"
`);
    expect(diffManifests(before, after)).toEqual([
      expect.objectContaining({
        kind: 'upgraded',
        source_changed: true,
        details: ['repo-rev: main → fix']
      })
    ]);
  });

  it('orders a version appearing on a stdlib (Julia 1.11 manifests) as an upgrade', () => {
    const before = manifest(`[[deps.Dates]]\nuuid = "${U1}"\n`);
    const after = manifest(
      `[[deps.Dates]]\nuuid = "${U1}"\nversion = "1.11.0"\n`
    );
    expect(diffManifests(before, after)).toEqual([
      expect.objectContaining({
        kind: 'upgraded',
        before_version: null,
        after_version: '1.11.0',
        source_changed: false,
        details: ['no version before']
      })
    ]);
    expect(diffManifests(after, before)[0]).toMatchObject({
      kind: 'downgraded',
      details: ['no version now']
    });
  });

  it('sorts by kind, then name without regard to case', () => {
    const before = manifest(`
[[deps.zeta]]
uuid = "${U1}"
version = "1.0.0"
git-tree-sha1 = "a"
`);
    const after = manifest(`
[[deps.beta]]
uuid = "${U2}"
version = "1.0.0"
git-tree-sha1 = "b"

[[deps.Alpha]]
uuid = "${U3}"
version = "1.0.0"
git-tree-sha1 = "c"
`);
    expect(diffManifests(before, after).map(c => c.name)).toEqual([
      'Alpha',
      'beta',
      'zeta'
    ]);
  });
});

describe('compareRuns', () => {
  const side = (extra: Partial<IRunEnvironment>): IRunEnvironment => ({
    julia_version: '1.11.2',
    git_sha: 'a'.repeat(40),
    git_dirty: false,
    project: null,
    manifest: null,
    ...extra
  });

  it('compares Julia and git', () => {
    const same = compareRuns(side({}), side({}));
    expect(same.julia).toEqual({
      before: '1.11.2',
      after: '1.11.2',
      changed: false
    });
    expect(same.git).toEqual({
      before_sha: 'a'.repeat(40),
      after_sha: 'a'.repeat(40),
      before_dirty: false,
      after_dirty: false,
      changed: false
    });
    const other = compareRuns(
      side({}),
      side({ git_dirty: true, julia_version: '1.12.0' })
    );
    expect(other.git.changed).toBe(true);
    expect(other.julia.changed).toBe(true);
    expect(
      compareRuns(side({}), side({ git_sha: 'b'.repeat(40) })).git.changed
    ).toBe(true);
    expect(
      compareRuns(side({ git_sha: null, git_dirty: null }), side({})).git
        .changed
    ).toBe(true);
  });

  it('does not compare packages unless both runs have a manifest', () => {
    const m = parseManifest(fixture('repo-url-v1-grpc/Manifest.toml'));
    const result = compareRuns(side({}), side({ manifest: m }));
    expect(result.packages_compared).toBe(false);
    expect(result.packages).toEqual([]);
    expect(result.counts).toEqual({
      added: 0,
      removed: 0,
      upgraded: 0,
      downgraded: 0,
      'source-changed': 0
    });
  });

  it('compares Project deps by name and uuid', () => {
    const p = (deps: string) => parseProject(`[deps]\n${deps}`);
    const result = compareRuns(
      side({ project: p(`A = "${U1}"\nB = "${U2}"\nC = "${U3}"\n`) }),
      side({ project: p(`C = "${U3}"\nB = "${U3}"\nD = "${U1}"\n`) })
    );
    expect(result.project_deps).toEqual({
      added: ['B', 'D'],
      removed: ['A', 'B']
    });
    expect(
      compareRuns(side({}), side({ project: p(`A = "${U1}"\n`) })).project_deps
    ).toEqual({
      added: ['A'],
      removed: []
    });
  });
});
