/**
 * The stale-manifest check: Julia's compat semantics (against the test Julia's own Pkg),
 * Pkg's project_hash (against the hashes real manifests recorded, both manifest
 * layouts, Julia 1.10 to 1.12 and a 1.12 workspace), the reasons on edited fixtures,
 * and the badge and hint a user sees, computed lazily from a real store.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { trans } from './helpers/trans';
import {
  formatSpec,
  intersectSpecs,
  semverSpec,
  specContains
} from '../manifest/compat';
import { hintMessage } from '../manifest/words';
import { runHints } from '../manifest/hints';
import { parseManifest } from '../manifest/parse';
import {
  IResolveProject,
  parseResolveProject,
  projectHash,
  sha1Hex,
  StaleManifests,
  staleReasons
} from '../manifest/stale';
import { juliaStringLiteral } from '../restore/snippet';
import { IRunSummary } from '../store/types';
import { RunDetails } from '../widgets/details';
import { RunList, showStaleManifests } from '../widgets/runlist';
import { runJulia } from './helpers/julia';
import { FakeStoreAPI, makeRun, makeStore } from './helpers/sqljs';
import { workspaceRun } from './helpers/workspace';

const FIXTURES = path.join(__dirname, 'fixtures', 'manifests');
const read = (rel: string) => fs.readFileSync(path.join(FIXTURES, rel), 'utf8');

/** Insert `line` as the first entry of `[section]` (a new section at the end if none). */
function withEntry(text: string, section: string, line: string): string {
  const header = new RegExp(`^\\[${section}\\][ \\t]*\\r?\\n`, 'm');
  return header.test(text)
    ? text.replace(header, m => `${m}${line}\n`)
    : `${text}\n[${section}]\n${line}\n`;
}

/** Replace the value of `name` in `[section]`. */
function withValue(
  text: string,
  section: string,
  name: string,
  value: string
): string {
  const start = text.search(new RegExp(`^\\[${section}\\]`, 'm'));
  const entry = new RegExp(`^${name} = ".*"$`, 'm');
  const rest = text.slice(start);
  if (start < 0 || !entry.test(rest)) {
    throw new Error(`no ${name} in [${section}]`);
  }
  return text.slice(0, start) + rest.replace(entry, `${name} = "${value}"`);
}

function reasonsOf(
  project: string,
  manifest: string,
  workspace: IResolveProject[] | null = []
) {
  return staleReasons({
    project: parseResolveProject(project),
    manifest: parseManifest(manifest),
    workspace
  });
}

describe("Julia's compat semantics, checked against the test Julia's Pkg", () => {
  // Pkg's semver_spec, VersionSpec printing and intersect are the same in Julia 1.5's
  // Pkg as in 1.12's (src/Versions.jl); 1.5 prints ranges as 1.11 does but with "-".
  let seed = 11;
  const random = (n: number) => {
    seed = (seed * 48271) % 0x7fffffff;
    return seed % n;
  };
  const randomVersion = () =>
    Array.from({ length: 1 + random(3) }, () => String(random(4))).join('.');
  const randomPart = () => {
    if (random(5) === 0) {
      return `${randomVersion()} - ${randomVersion()}`;
    }
    const op = ['', '', '^', '~', '=', '= ', '>=', '≥ ', '<', '< '][random(10)];
    return op + randomVersion();
  };
  const specs = [
    '1.2.3',
    '1.2',
    '1',
    '0.2.3',
    '0.2',
    '0',
    '0.0.3',
    '0.0',
    '0.0.0',
    '^1.2.3',
    '^0.2.3',
    '^0.0.3',
    '^0.0',
    '^0',
    '~1.2.3',
    '~1.2',
    '~1',
    '~0.2.3',
    '~0.0.3',
    '~0',
    '= 1.2.3',
    '=1.2',
    '=0.0.1',
    '>= 1.2.3',
    '≥ 1.2',
    '>=0.0.1',
    '< 1.2.3',
    '<1.2',
    '<1',
    '<0.0.1',
    '<0',
    '1.2 - 1.4',
    '0.7 - 1.3.2',
    '1 - 2',
    '1.2.3 - 1.2.3',
    '1.2 -  1.4',
    ' 1.2, 0.5 ',
    '\t1.2',
    '0.5, 1, 2.3',
    '1.2.3, 1.2.4',
    '0.2, 0.3',
    '1.0 - 1.5, 1.4 - 2',
    '0.18, 0.19',
    '3.46.1, 4, 5',
    '0.6, 0.7, 0.8',
    '=0.9.35',
    '1.2.0 - 1',
    'v1.2',
    '^v1',
    '>= v1.2',
    '1.2.3.4',
    '1.x',
    '',
    '1-2',
    '>1',
    '1.2,',
    'abc',
    '01.02',
    '1.2, x',
    '*',
    '99999999999'
  ];
  for (let i = 0; i < 150; i++) {
    specs.push(Array.from({ length: 1 + random(3) }, randomPart).join(', '));
  }
  const versions: string[] = [];
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      for (let c = 0; c < 4; c++) {
        versions.push(`${a}.${b}.${c}`);
      }
    }
  }
  versions.push('1.2.3-rc1', '1.2.3+0', '0.0.0-DEV', '10.0.0');
  const valid = specs.filter(s => semverSpec(s) !== null);
  const pairs = Array.from({ length: 120 }, () => [
    valid[random(valid.length)],
    valid[random(valid.length)]
  ]);

  let julia: string[] = [];
  beforeAll(() => {
    const list = (xs: string[]) =>
      `[${xs.map(juliaStringLiteral).join(',\n')}]`;
    const run = runJulia(`using Pkg
const T = Pkg.Types
versions = VersionNumber.(${list(versions)})
for s in ${list(specs)}
    spec = try T.semver_spec(String(s)) catch; nothing end
    if spec === nothing
        println("ERROR")
    else
        println(string(spec), "\\t", join([v in spec ? '1' : '0' for v in versions]))
    end
end
for (a, b) in ${`[${pairs.map(([a, b]) => `(${juliaStringLiteral(a)}, ${juliaStringLiteral(b)})`).join(',\n')}]`}
    println(string(intersect(T.semver_spec(String(a)), T.semver_spec(String(b)))))
end
`);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    julia = run.stdout.split('\n').slice(0, -1);
  });

  it('parses, prints and matches versions as Pkg.Types.semver_spec', () => {
    // A few whose meaning is worth seeing written out.
    expect(formatSpec(semverSpec('0.2')!, 'dash')).toBe('0.2');
    expect(formatSpec(semverSpec('>= 1.2')!, 'dash')).toBe('1.2.0-*');
    expect(formatSpec(semverSpec('1.2')!, 'spaced')).toBe('1.2.0 - 1');
    expect(formatSpec(semverSpec('0.18, 0.19')!, 'spaced')).toBe('0.18 - 0.19');
    expect(specContains(semverSpec('~1.2.3')!, '1.3.0')).toBe(false);
    expect(specContains(semverSpec('0.0.3')!, '0.0.4')).toBe(false);
    expect(specContains(semverSpec('≥ 1.6')!, '2.0.0+0')).toBe(true);
    expect(semverSpec('>1')).toBeNull();

    const ours = specs.map(s => {
      const spec = semverSpec(s);
      return spec === null
        ? 'ERROR'
        : `${formatSpec(spec, 'dash')}\t${versions
            .map(v => (specContains(spec, v) ? '1' : '0'))
            .join('')}`;
    });
    expect(ours).toEqual(julia.slice(0, specs.length));
    // Enough of each kind, so that the comparison means something.
    expect(valid.length).toBeGreaterThan(150);
    expect(specs.length - valid.length).toBeGreaterThan(10);
  });

  it('intersects specifiers as Pkg does (workspace compat)', () => {
    expect(
      pairs.map(([a, b]) =>
        formatSpec(intersectSpecs(semverSpec(a)!, semverSpec(b)!), 'dash')
      )
    ).toEqual(julia.slice(specs.length));
  });
});

describe("Pkg's project_hash", () => {
  it('computes SHA-1 as node does', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 131 + n) & 0xff);
      expect(sha1Hex(bytes)).toBe(
        createHash('sha1').update(bytes).digest('hex')
      );
    }
  });

  // Every fixture manifest that records a project_hash, with the Julia that wrote it.
  it.each([
    ['medium-directoptimalcontrol', '1.10.0'],
    ['edge-empty/v2-grothcrypto', '1.11.5'],
    ['path-dev-kora-dashboard', '1.11.7'],
    ['large-sciml-pinn', '1.11.9'],
    ['two-commits-herb/c7532fa', '1.12.5'],
    ['two-commits-herb/d653e1b', '1.12.5'],
    ['repo-url-herb-refactoring', '1.12.6']
  ])('is the one %s recorded (Julia %s)', (dir, julia) => {
    const manifest = parseManifest(read(`${dir}/Manifest.toml`));
    expect(manifest.julia_version).toBe(julia);
    const project = parseResolveProject(read(`${dir}/Project.toml`));
    expect(projectHash([project], julia)).toBe(manifest.project_hash);
  });

  it('covers every project of a Julia 1.12 workspace', () => {
    const manifest = parseManifest(read('workspace-ribasim/Manifest.toml'));
    const [root, core, test] = [
      'Project.toml',
      'core/Project.toml',
      'core/test/Project.toml'
    ].map(f => parseResolveProject(read(`workspace-ribasim/${f}`)));
    expect(projectHash([core, root, test], '1.12.7')).toBe(
      manifest.project_hash
    );
    expect(projectHash([root], '1.12.7')).not.toBe(manifest.project_hash);
  });

  it('is none before Julia 1.8, and none for a workspace before 1.12', () => {
    const project = parseResolveProject(
      read('medium-directoptimalcontrol/Project.toml')
    );
    expect(projectHash([project], '1.7.3')).toBeNull();
    expect(projectHash([project], null)).toBeNull();
    expect(projectHash([project, project], '1.11.1')).toBeNull();
  });

  it('leaves out, in Julia 1.11, a dependency listed the same in [weakdeps]', () => {
    const base = '[deps]\nA = "0a000000-0000-0000-0000-000000000000"\n';
    const weak =
      '[deps]\nA = "0a000000-0000-0000-0000-000000000000"\n' +
      'B = "0b000000-0000-0000-0000-000000000000"\n' +
      '[weakdeps]\nB = "0b000000-0000-0000-0000-000000000000"\n';
    const hash = (text: string, julia: string) =>
      projectHash([parseResolveProject(text)], julia);
    expect(hash(weak, '1.11.0')).toBe(hash(base, '1.11.0'));
    expect(hash(weak, '1.10.0')).not.toBe(hash(base, '1.10.0'));
  });
});

describe('staleReasons on the fixtures', () => {
  const dirs = (dir: string): string[] =>
    fs
      .readdirSync(path.join(FIXTURES, dir), { withFileTypes: true })
      .filter(e => e.isDirectory())
      .flatMap(e => {
        const rel = dir ? `${dir}/${e.name}` : e.name;
        return fs.existsSync(path.join(FIXTURES, rel, 'Manifest.toml'))
          ? [rel]
          : dirs(rel);
      });
  const all = dirs('');

  it('finds nothing stale in the manifests as their projects committed them', () => {
    const formats = new Set<string>();
    for (const dir of all) {
      const manifest = read(`${dir}/Manifest.toml`);
      formats.add(parseManifest(manifest).format);
      const workspace =
        dir === 'workspace-ribasim'
          ? ['core/Project.toml', 'core/test/Project.toml'].map(f =>
              parseResolveProject(read(`${dir}/${f}`))
            )
          : [];
      expect([
        dir,
        reasonsOf(read(`${dir}/Project.toml`), manifest, workspace)
      ]).toEqual([dir, []]);
    }
    expect(all.length).toBeGreaterThanOrEqual(15);
    expect([...formats].sort()).toEqual(['1.0', '2.0']);
  });

  it('names a dependency missing from the manifest (both layouts)', () => {
    const extra = 'Zzz = "0f000000-0000-0000-0000-00000000000f"';
    for (const dir of ['medium-directoptimalcontrol', 'repo-url-v1-grpc']) {
      expect(
        reasonsOf(
          withEntry(read(`${dir}/Project.toml`), 'deps', extra),
          read(`${dir}/Manifest.toml`)
        )
      ).toEqual([
        {
          code: 'missing',
          name: 'Zzz',
          uuid: '0f000000-0000-0000-0000-00000000000f'
        }
      ]);
    }
  });

  it('names a version outside the compat (both layouts, julia too)', () => {
    // v1 layout: ProtoBuf 0.8.0; "0.7" means 0.7.x only.
    const grpc = read('repo-url-v1-grpc/Project.toml');
    const v1 = read('repo-url-v1-grpc/Manifest.toml');
    expect(
      reasonsOf(withEntry(grpc, 'compat', 'ProtoBuf = "0.8"'), v1)
    ).toEqual([]);
    expect(
      reasonsOf(withEntry(grpc, 'compat', 'ProtoBuf = "0.7"'), v1)
    ).toEqual([
      { code: 'compat', name: 'ProtoBuf', version: '0.8.0', compat: '0.7' }
    ]);
    // v2 layout: JuMP 1.18.0.
    const jump = read('medium-directoptimalcontrol/Project.toml');
    const v2 = read('medium-directoptimalcontrol/Manifest.toml');
    expect(reasonsOf(withEntry(jump, 'compat', 'JuMP = "=1.17"'), v2)).toEqual([
      { code: 'compat', name: 'JuMP', version: '1.18.0', compat: '=1.17' }
    ]);
    // julia = "1.11" and a manifest resolved by 1.11.5; then "1.12".
    const groth = read('edge-empty/v2-grothcrypto/Project.toml');
    const g = read('edge-empty/v2-grothcrypto/Manifest.toml');
    expect(reasonsOf(withValue(groth, 'compat', 'julia', '1.12'), g)).toEqual([
      { code: 'compat', name: 'julia', version: '1.11.5', compat: '1.12' }
    ]);
  });

  it.each([
    // [fixture, package, an equivalent compat, a different one still satisfied]
    ['two-commits-herb/d653e1b', 'HerbSearch', '1.0', '1, 2'],
    ['large-sciml-pinn', 'Lux', '1.0.0 - 1', '0.5, 1'],
    ['path-dev-kora-dashboard', null, null, null],
    ['medium-directoptimalcontrol', null, null, null]
  ])(
    'says %s changed after the resolve when its project_hash says so',
    (dir, name, same, other) => {
      const project = read(`${dir}/Project.toml`);
      const manifest = read(`${dir}/Manifest.toml`);
      if (name !== null) {
        // Pkg hashes the normalized specifier: the same versions, the same hash.
        expect(
          reasonsOf(withValue(project, 'compat', name, same!), manifest)
        ).toEqual([]);
        expect(
          reasonsOf(withValue(project, 'compat', name, other!), manifest)
        ).toEqual([{ code: 'project-changed' }]);
      }
      // A dependency removed from [deps] after the resolve: still in the manifest.
      const dropped = project.replace(/^\[deps\]\r?\n[^\n]*\n/m, '[deps]\n');
      expect(dropped).not.toBe(project);
      expect(reasonsOf(dropped, manifest)).toEqual([
        { code: 'project-changed' }
      ]);
      // Without a project_hash (Julia 1.7 and older) that cannot be told.
      const unhashed = manifest.replace(/^project_hash = .*$/m, '');
      expect(reasonsOf(dropped, unhashed)).toEqual([]);
      // Nor in a workspace whose other projects were not recorded.
      expect(reasonsOf(dropped, manifest, null)).toEqual([]);
    }
  );

  it('checks a workspace only when all its projects are there', () => {
    const dir = 'workspace-ribasim';
    const manifest = read(`${dir}/Manifest.toml`);
    const test = parseResolveProject(read(`${dir}/core/test/Project.toml`));
    const root = read(`${dir}/Project.toml`);
    const core = parseResolveProject(read(`${dir}/core/Project.toml`));
    const changed = withValue(root, 'compat', 'Plots', '1.41.4, 2');
    expect(reasonsOf(changed, manifest, [core, test])).toEqual([
      { code: 'project-changed' }
    ]);
    expect(reasonsOf(changed, manifest, [core])).toEqual([]);
  });
});

describe('the badge in the run list and the hint in the details', () => {
  const dir = 'medium-directoptimalcontrol';
  const fresh = () =>
    makeRun({
      project: read(`${dir}/Project.toml`),
      manifest: read(`${dir}/Manifest.toml`)
    });
  const stale = () =>
    makeRun({
      project: withEntry(
        read(`${dir}/Project.toml`),
        'deps',
        'Zzz = "0f000000-0000-0000-0000-00000000000f"'
      ),
      manifest: read(`${dir}/Manifest.toml`)
    });

  async function storeWith(...inputs: ReturnType<typeof makeRun>[]) {
    const store = makeStore(new FakeStoreAPI());
    for (const input of inputs) {
      await store.addRun(input);
    }
    return store;
  }

  const badge = (list: RunList, run: IRunSummary) =>
    list.node.querySelector<HTMLElement>(
      `#jp-DearDiary-run-${run.id} .jp-DearDiary-badge-stale`
    );

  it('shows the badge on the stale run only, with what does not match', async () => {
    const store = await storeWith(
      fresh(),
      stale(),
      makeRun({ noManifest: true }),
      workspaceRun(),
      workspaceRun({ unrecorded: true })
    );
    const runs = await store.listRuns();
    const stale_ = new StaleManifests({ store });
    const list = new RunList(trans);
    showStaleManifests(list, stale_);
    list.setRuns(runs);
    // Nothing is known yet: the list did not wait for the store.
    expect(list.node.querySelector('.jp-DearDiary-badge-stale')).toBeNull();
    await stale_.idle;
    const shown = runs.filter(r => badge(list, r) !== null);
    expect(shown.map(r => r.id)).toEqual([2]);
    expect(
      badge(
        list,
        runs.find(r => r.id === 2)!
      )!.title
    ).toBe(
      'The manifest does not match Project.toml: Zzz is in Project.toml but not in the manifest. Pkg.instantiate() may fail or install other versions than the project asks for; run Pkg.resolve() and record a new run.'
    );
    expect(
      badge(
        list,
        runs.find(r => r.id === 2)!
      )!.textContent
    ).toBe('stale manifest');
  });

  it('computes only the rows in view, each set of files once', async () => {
    const inputs = [stale(), ...Array.from({ length: 59 }, fresh)];
    inputs.forEach((input, i) => {
      input.created_at = new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString();
    });
    const store = await storeWith(...inputs);
    const getRun = jest.spyOn(store, 'getRun');
    const getText = jest.spyOn(store, 'getText');
    const stale_ = new StaleManifests({ store });
    const list = new RunList(trans);
    showStaleManifests(list, stale_);
    list.setRuns(await store.listRuns());
    await stale_.idle;
    // 600 px (jsdom has no layout) of 44 px rows and 8 of overscan: 22 rows, 1 a group.
    const asked = getRun.mock.calls.map(([id]) => id);
    expect(asked.length).toBe(21);
    expect(new Set(asked).size).toBe(21);
    // They all recorded the same files: one project and one manifest read.
    expect(getText).toHaveBeenCalledTimes(2);
    // The stale run is the oldest: out of view, not computed, no badge yet.
    expect(list.node.querySelector('.jp-DearDiary-badge-stale')).toBeNull();
    list.node.scrollTop = 60 * 44;
    list.node.dispatchEvent(new Event('scroll'));
    await stale_.idle;
    expect(list.node.querySelector('.jp-DearDiary-badge-stale')).not.toBeNull();
    expect(getText).toHaveBeenCalledTimes(4);
    expect(getRun.mock.calls.length).toBeLessThan(60);
  });

  it('explains it in the details of the run', async () => {
    const store = await storeWith(fresh(), stale());
    const [a, b] = await Promise.all([store.getRun(1), store.getRun(2)]);
    expect((await runHints(store, a)).map(h => h.code)).not.toContain(
      'stale-manifest'
    );
    const hints = await runHints(store, b);
    const hint = hints.find(h => h.code === 'stale-manifest')!;
    expect(hint.severity).toBe('warning');
    expect(hintMessage(trans, hint)).toBe(
      'The manifest does not match Project.toml: Zzz is in Project.toml but not in the manifest. Pkg.instantiate() may fail or install other versions than the project asks for; run Pkg.resolve() and record a new run.'
    );
    const view = new RunDetails(trans, {
      copySnippet: jest.fn(),
      saveNote: jest.fn(),
      deleteRun: jest.fn(),
      viewFile: jest.fn(),
      restore: jest.fn()
    });
    view.render(b, hints);
    expect(
      view.node.querySelector('.jp-DearDiary-hint.jp-mod-warning')?.textContent
    ).toBe(hintMessage(trans, hint));
  });
});
