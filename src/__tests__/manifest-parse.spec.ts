import * as fs from 'fs';
import * as path from 'path';
import {
  decodeText,
  IManifest,
  ManifestParseError,
  parseManifest,
  parseProject
} from '../manifest/parse';

const FIXTURES = path.join(__dirname, 'fixtures', 'manifests');

function fixture(relative: string): string {
  return decodeText(
    new Uint8Array(fs.readFileSync(path.join(FIXTURES, relative)))
  );
}

function byName(manifest: IManifest, name: string) {
  const found = manifest.packages.filter(p => p.name === name);
  expect(found).toHaveLength(1);
  return found[0];
}

// The fixtures' README table: layout, julia_version and the number of entries.
const TABLE: [string, IManifest['format'], string | null, number][] = [
  ['large-sciml-pinn/Manifest.toml', '2.0', '1.11.9', 423],
  ['medium-directoptimalcontrol/Manifest.toml', '2.0', '1.10.0', 82],
  ['v1-vibronictoolkit-2018/Manifest.toml', '1.0', null, 42],
  ['path-dev-kora-dashboard/Manifest.toml', '2.0', '1.11.7', 357],
  ['repo-url-herb-refactoring/Manifest.toml', '2.0', '1.12.6', 102],
  ['repo-url-v1-grpc/Manifest.toml', '1.0', null, 18],
  ['workspace-ribasim/Manifest.toml', '2.0', '1.12.7', 391],
  ['two-commits-covid19/ce2c972/Manifest.toml', '1.0', null, 75],
  ['two-commits-covid19/e67d2e2/Manifest.toml', '1.0', null, 112],
  ['two-commits-herb/c7532fa/Manifest.toml', '2.0', '1.12.5', 107],
  ['two-commits-herb/d653e1b/Manifest.toml', '2.0', '1.12.5', 102],
  ['format-migration-cgcoefficient/149f1e5/Manifest.toml', '1.0', null, 9],
  ['format-migration-cgcoefficient/446597c/Manifest.toml', '2.0', '1.7.1', 9],
  ['edge-empty/v1-materials/Manifest.toml', '1.0', null, 0],
  ['edge-empty/v2-grothcrypto/Manifest.toml', '2.0', '1.11.5', 0]
];

describe('parseManifest on the fixtures', () => {
  it.each(TABLE)('%s: %s, julia %s, %d entries', (file, format, julia, n) => {
    const m = parseManifest(fixture(file));
    expect(m.format).toBe(format);
    expect(m.julia_version).toBe(julia);
    expect(m.packages).toHaveLength(n);
    for (const p of m.packages) {
      expect(p.uuid).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
      );
      expect(p.deps.every(d => typeof d === 'string')).toBe(true);
    }
    // UUIDs are unique within a manifest.
    expect(new Set(m.packages.map(p => p.uuid)).size).toBe(n);
  });

  it('reads project_hash, absent from v1 and from the Julia 1.7 manifest', () => {
    expect(
      parseManifest(fixture('large-sciml-pinn/Manifest.toml')).project_hash
    ).toBe('5bb616a79db830e2f3e627781abce065edf089a0');
    expect(
      parseManifest(
        fixture('format-migration-cgcoefficient/446597c/Manifest.toml')
      ).project_hash
    ).toBeNull();
    expect(
      parseManifest(fixture('v1-vibronictoolkit-2018/Manifest.toml'))
        .project_hash
    ).toBeNull();
  });

  it('reads a registered entry with weakdeps and extensions subtables', () => {
    const m = parseManifest(fixture('large-sciml-pinn/Manifest.toml'));
    expect(byName(m, 'ADTypes')).toEqual({
      name: 'ADTypes',
      uuid: '47edcb42-4c32-4615-8424-f2b9edc5f35b',
      version: '1.22.0',
      git_tree_sha1: 'bbc22a9a08a0ef6460041086d8a7b27940ed4ffd',
      repo_url: null,
      repo_rev: null,
      path: null,
      deps: [],
      is_stdlib: false
    });
    expect(byName(m, 'AbstractFFTs').deps).toEqual(['LinearAlgebra']);
  });

  it('marks stdlibs: without a version (old manifests, SuiteSparse) and with one (1.11+)', () => {
    const v1 = parseManifest(fixture('v1-vibronictoolkit-2018/Manifest.toml'));
    const stdlibs = v1.packages.filter(p => p.is_stdlib);
    expect(stdlibs).toHaveLength(25);
    expect(
      stdlibs.every(p => p.version === null && p.git_tree_sha1 === null)
    ).toBe(true);
    expect(byName(v1, 'Dates')).toMatchObject({
      version: null,
      deps: ['Printf'],
      is_stdlib: true
    });

    const medium = parseManifest(
      fixture('medium-directoptimalcontrol/Manifest.toml')
    );
    expect(medium.packages.filter(p => p.version === null)).toHaveLength(20);
    expect(
      medium.packages.filter(p => p.is_stdlib).length
    ).toBeGreaterThanOrEqual(20);

    const large = parseManifest(fixture('large-sciml-pinn/Manifest.toml'));
    expect(byName(large, 'SuiteSparse')).toMatchObject({
      version: null,
      is_stdlib: true
    });
    expect(byName(large, 'Dates')).toMatchObject({
      version: '1.11.0',
      is_stdlib: true
    });
    // An upgradable stdlib installed from the registry is a registered package.
    expect(byName(large, 'Statistics')).toMatchObject({
      version: '1.11.1',
      is_stdlib: false
    });
  });

  it('reads path entries: a dev package outside the repo, a workspace member, the project itself', () => {
    const kora = parseManifest(
      fixture('path-dev-kora-dashboard/Manifest.toml')
    );
    expect(byName(kora, 'Kora')).toMatchObject({
      path: '../Kora.jl',
      version: '1.0.0',
      git_tree_sha1: null,
      is_stdlib: false
    });
    expect(kora.packages.filter(p => p.path !== null).map(p => p.name)).toEqual(
      ['Kora']
    );

    const ribasim = parseManifest(fixture('workspace-ribasim/Manifest.toml'));
    expect(byName(ribasim, 'Ribasim')).toMatchObject({
      path: 'core',
      version: '2026.1.2'
    });

    const herb = parseManifest(
      fixture('repo-url-herb-refactoring/Manifest.toml')
    );
    expect(herb.packages.filter(p => p.path === '.')).toHaveLength(1);
  });

  it('reads repo-url / repo-rev entries of both layouts', () => {
    const grpc = parseManifest(fixture('repo-url-v1-grpc/Manifest.toml'));
    expect(byName(grpc, 'HTTP2')).toEqual({
      name: 'HTTP2',
      uuid: 'd274f558-d366-508a-a164-2611506323a4',
      version: '0.0.0',
      git_tree_sha1: 'a6debf22c63283b72d13dc1964acbf6e1042ccab',
      repo_url: 'https://github.com/2HgO/HTTP2.jl',
      repo_rev: 'master',
      path: null,
      deps: ['HPack', 'HttpCommon'],
      is_stdlib: false
    });
    expect(grpc.packages.filter(p => p.repo_url !== null)).toHaveLength(2);

    const herb = parseManifest(
      fixture('repo-url-herb-refactoring/Manifest.toml')
    );
    const repos = herb.packages.filter(p => p.repo_url !== null);
    expect(repos.map(p => p.repo_rev).sort()).toEqual([
      '124-Aulile',
      'aulile_containsany',
      'karel'
    ]);
    expect(repos.filter(p => p.repo_url!.endsWith('.git'))).toHaveLength(1);

    const ribasim = parseManifest(fixture('workspace-ribasim/Manifest.toml'));
    expect(byName(ribasim, 'PackageCompiler')).toMatchObject({
      repo_url: 'https://github.com/visr/PackageCompiler.jl',
      repo_rev: 'ribasim_libdir',
      version: '2.4.0'
    });
  });
});

describe('parseManifest, hand-made', () => {
  it('keeps two entries under one name with different UUIDs, and a deps table', () => {
    const m = parseManifest(`julia_version = "1.10.4"
manifest_format = "2.0"
project_hash = "abc"

[[deps.Foo]]
uuid = "11111111-1111-1111-1111-111111111111"
version = "1.0.0"
git-tree-sha1 = "aaaa"

[[deps.Foo]]
uuid = "22222222-2222-2222-2222-222222222222"
version = "2.0.0"
git-tree-sha1 = "bbbb"

[[deps.Bar]]
uuid = "33333333-3333-3333-3333-333333333333"
version = "0.1.0"
git-tree-sha1 = "cccc"

    [deps.Bar.deps]
    Foo = "22222222-2222-2222-2222-222222222222"
    Dates = "ade2ca70-3891-5945-98fb-dc099432e06a"

    [deps.Bar.weakdeps]
    Baz = "44444444-4444-4444-4444-444444444444"
`);
    expect(m.packages.map(p => [p.name, p.uuid, p.version])).toEqual([
      ['Foo', '11111111-1111-1111-1111-111111111111', '1.0.0'],
      ['Foo', '22222222-2222-2222-2222-222222222222', '2.0.0'],
      ['Bar', '33333333-3333-3333-3333-333333333333', '0.1.0']
    ]);
    expect(m.packages[2].deps).toEqual(['Foo', 'Dates']);
  });

  it('keeps duplicate names in the v1 layout too', () => {
    const m = parseManifest(`[[Foo]]
uuid = "11111111-1111-1111-1111-111111111111"
version = "1.0.0"
git-tree-sha1 = "aaaa"

[[Foo]]
uuid = "22222222-2222-2222-2222-222222222222"
path = "dev/Foo"
`);
    expect(m.format).toBe('1.0');
    expect(
      m.packages.map(p => [p.uuid.slice(0, 2), p.version, p.path])
    ).toEqual([
      ['11', '1.0.0', null],
      ['22', null, 'dev/Foo']
    ]);
    expect(m.packages[1].is_stdlib).toBe(false);
  });

  it('accepts a BOM and CRLF line ends', () => {
    const bytes = new TextEncoder().encode(
      '\ufeffjulia_version = "1.11.0"\r\nmanifest_format = "2.0"\r\n\r\n[[deps.A]]\r\nuuid = "u"\r\n'
    );
    expect(bytes[0]).toBe(0xef);
    const text = decodeText(bytes);
    expect(text.startsWith('julia_version')).toBe(true);
    expect(parseManifest(text).packages.map(p => p.name)).toEqual(['A']);
  });

  it('reports a TOML syntax error with its line and column', () => {
    let error: unknown;
    try {
      parseManifest(
        'julia_version = "1.10.0"\nmanifest_format = "2.0"\n\n[[deps.A]\nuuid = "x"\n'
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ManifestParseError);
    const e = error as ManifestParseError;
    expect(e.line).toBe(4);
    expect(e.column).toBeGreaterThan(0);
    expect(e.message).toMatch(
      /^Manifest is not valid TOML \(line 4, column \d+\): /
    );
  });

  it('rejects structures Pkg does not write', () => {
    const cases: [string, RegExp][] = [
      [
        'manifest_format = "2.0"\n[[deps.A]]\nversion = "1.0.0"\n',
        /A: an entry has no uuid/
      ],
      [
        'manifest_format = "2.0"\n[[deps.A]]\nuuid = "u"\nversion = 1\n',
        /A: version is not a string/
      ],
      [
        'manifest_format = "2.0"\n[[deps.A]]\nuuid = "u"\ndeps = [1]\n',
        /A: deps is neither/
      ],
      ['manifest_format = "2.0"\ndeps = 3\n', /\[deps\] is not a table/],
      [
        'manifest_format = "2.0"\n[deps.A]\nuuid = "u"\n',
        /deps.A is not a list/
      ],
      ['manifest_format = "3.0"\n', /manifest_format "3.0" is not supported/],
      ['manifest_format = 2\n', /manifest_format is not a string/]
    ];
    for (const [text, message] of cases) {
      expect(() => parseManifest(text)).toThrow(ManifestParseError);
      expect(() => parseManifest(text)).toThrow(message);
    }
  });

  it('reads an empty text as an empty v1 manifest', () => {
    expect(parseManifest('')).toEqual({
      format: '1.0',
      julia_version: null,
      project_hash: null,
      packages: []
    });
  });
});

describe('parseProject', () => {
  it('reads name, uuid, version, deps and compat', () => {
    const p = parseProject(
      fixture('format-migration-cgcoefficient/446597c/Project.toml')
    );
    expect(p).toEqual({
      name: 'CGcoefficient',
      uuid: 'c862aa61-d51e-47d1-b396-b1e789b4e0b6',
      version: '0.2.0',
      deps: {
        Markdown: 'd6f4376e-aef5-505a-96c1-9c027394607a',
        Primes: '27ebfcd6-29c5-5fa9-bf4b-fb8fc14df3ae',
        Test: '8dfed614-e22c-5e08-85e1-65c5234f0b40'
      },
      compat: { julia: '1' },
      sources: {},
      workspace_projects: []
    });
  });

  it('reads [sources] (url/rev and path) and [workspace] projects', () => {
    const root = parseProject(fixture('workspace-ribasim/Project.toml'));
    expect(root.name).toBe('root');
    expect(root.workspace_projects).toEqual(['core']);
    expect(root.sources).toEqual({
      DataInterpolations: {
        rev: 'fix_SCT_for_intinv_itps',
        url: 'https://github.com/SciML/DataInterpolations.jl'
      },
      PackageCompiler: {
        rev: 'ribasim_libdir',
        url: 'https://github.com/visr/PackageCompiler.jl'
      },
      Ribasim: { path: 'core' }
    });
    expect(
      parseProject(fixture('workspace-ribasim/core/Project.toml'))
        .workspace_projects
    ).toEqual(['test']);
    const kora = parseProject(fixture('path-dev-kora-dashboard/Project.toml'));
    expect(kora.sources.Kora).toEqual({ path: '../Kora.jl' });
  });

  it('reads a project without deps, and an empty one', () => {
    const p = parseProject(fixture('edge-empty/v1-materials/Project.toml'));
    expect(p.deps).toEqual({});
    expect(p.compat).toEqual({ julia: '1.6' });
    expect(parseProject('')).toEqual({
      name: null,
      uuid: null,
      version: null,
      deps: {},
      compat: {},
      sources: {},
      workspace_projects: []
    });
  });

  it('keeps a dependency named __proto__ as an ordinary key', () => {
    const p = parseProject('[deps]\n__proto__ = "u"\n');
    expect(Object.keys(p.deps)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(p.deps)).toBe(Object.prototype);
  });

  it('reports errors', () => {
    expect(() => parseProject('name = \n')).toThrow(
      /^Project is not valid TOML \(line 1/
    );
    expect(() => parseProject('deps = 1\n')).toThrow(/\[deps\] is not a table/);
    expect(() => parseProject('[deps]\nA = 1\n')).toThrow(
      /deps.A is not a string/
    );
    expect(() => parseProject('[workspace]\nprojects = "a"\n')).toThrow(
      /workspace.projects/
    );
    expect(() => parseProject('[sources]\nA = "x"\n')).toThrow(
      /sources.A is not a table/
    );
  });
});
