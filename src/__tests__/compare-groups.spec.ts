/**
 * The compare view's package groups: by kind, direct dependencies (the [deps] of either
 * run's Project.toml, by UUID) apart from transitive ones, up and down in Julia's
 * version ordering, a Julia or manifest-format change on top.
 */
import {
  compareRuns,
  groupChanges,
  IRunEnvironment,
  versionDirection
} from '../manifest/diff';
import { parseManifest, parseProject } from '../manifest/parse';
import { IRunSummary } from '../store/types';
import { CompareView } from '../widgets/compare';
import { trans } from './helpers/trans';

const U = (n: number) =>
  `${String(n).padStart(8, '0')}-0000-0000-0000-000000000000`;

/** A format-2.0 manifest of [name, uuid number, version] entries. */
function manifest(entries: [string, number, string][], format = '2.0') {
  if (format === '1.0') {
    return parseManifest(
      entries
        .map(
          ([name, n, v]) =>
            `[[${name}]]\nuuid = "${U(n)}"\nversion = "${v}"\ngit-tree-sha1 = "${'1'.repeat(40)}"\n`
        )
        .join('\n')
    );
  }
  return parseManifest(
    `julia_version = "1.10.4"\nmanifest_format = "2.0"\n\n` +
      entries
        .map(
          ([name, n, v]) =>
            `[[deps.${name}]]\nuuid = "${U(n)}"\nversion = "${v}"\ngit-tree-sha1 = "${'1'.repeat(40)}"\n`
        )
        .join('\n')
  );
}

function project(deps: [string, number][]) {
  return parseProject(
    `[deps]\n${deps.map(([name, n]) => `${name} = "${U(n)}"`).join('\n')}\n`
  );
}

function side(extra: Partial<IRunEnvironment>): IRunEnvironment {
  return {
    julia_version: '1.10.4',
    git_sha: null,
    git_dirty: null,
    project: null,
    manifest: null,
    ...extra
  };
}

// Each pair checked against Julia 1.5.3's own VersionNumber isless.
describe('versionDirection (Julia ordering)', () => {
  it.each([
    ['1.9.0', '1.10.0', 'upgraded'], // numeric, not text order
    ['1.10.0', '1.9.3', 'downgraded'],
    ['1.11.0-rc1', '1.11.0', 'upgraded'], // a prerelease comes before its release
    ['1.11.0-rc.2', '1.11.0-rc.10', 'upgraded'], // numeric identifiers
    // One identifier "rc10" is text: Julia orders v"1.11.0-rc10" < v"1.11.0-rc2".
    ['1.11.0-rc2', '1.11.0-rc10', 'downgraded'],
    ['1.11.0', '1.11.0+0', 'upgraded'], // a build comes after it
    ['1.11.0-rc1', '1.11.0-DEV.1234', 'downgraded'], // "DEV" < "rc1" (as text)
    ['1.6', '1.6.0', 'same'],
    ['1.6.0', null, 'same']
  ])('%s → %s is %s', (a, b, expected) => {
    expect(versionDirection(a, b)).toBe(expected);
  });
});

describe('groupChanges', () => {
  const before = manifest([
    ['Direct', 1, '1.9.0'],
    ['Deep', 2, '0.2.0'],
    ['Gone', 3, '1.0.0'],
    ['DeepGone', 4, '1.0.0'],
    ['Pre', 5, '2.0.0'],
    ['Same', 6, '1.0.0']
  ]);
  const after = manifest([
    ['Direct', 1, '1.10.0'],
    ['Deep', 2, '0.1.9'],
    ['Pre', 5, '2.0.0-rc1'],
    ['New', 7, '0.1.0'],
    ['DeepNew', 8, '0.1.0'],
    ['Same', 6, '1.0.0']
  ]);

  it('puts direct dependencies of either run apart, by UUID', () => {
    const result = compareRuns(
      side({
        manifest: before,
        // Gone was a direct dependency before; "Deep" names another UUID here.
        project: project([
          ['Direct', 1],
          ['Gone', 3],
          ['Deep', 99]
        ])
      }),
      side({
        manifest: after,
        project: project([
          ['Direct', 1],
          ['New', 7],
          ['Pre', 5]
        ])
      })
    );
    expect(result.direct_known).toBe(true);
    const names = result.groups.map(g => [
      g.kind,
      g.direct.map(c => c.name),
      g.transitive.map(c => c.name)
    ]);
    expect(names).toEqual([
      ['added', ['New'], ['DeepNew']],
      ['removed', ['Gone'], ['DeepGone']],
      ['upgraded', ['Direct'], []], // 1.9.0 → 1.10.0
      ['downgraded', ['Pre'], ['Deep']] // 2.0.0 → 2.0.0-rc1; 0.2.0 → 0.1.9
    ]);
    // Counts agree with the flat list; the unchanged package is nowhere.
    for (const g of result.groups) {
      expect(g.direct.length + g.transitive.length).toBe(result.counts[g.kind]);
    }
    expect(
      result.groups.flatMap(g => [...g.direct, ...g.transitive]).length
    ).toBe(result.packages.length);
  });

  it('leaves every change transitive when no project is known', () => {
    const result = compareRuns(
      side({ manifest: before }),
      side({ manifest: after })
    );
    expect(result.direct_known).toBe(false);
    expect(result.groups.every(g => g.direct.length === 0)).toBe(true);
    expect(groupChanges(result.packages, [null, null])).toEqual(result.groups);
  });

  it('tells a Julia and a manifest-format change', () => {
    const m1 = manifest([['A', 1, '1.0.0']], '1.0');
    const m2 = manifest([['A', 1, '1.0.0']]);
    const result = compareRuns(
      side({ julia_version: '1.11.0-rc1', manifest: m1 }),
      side({ julia_version: '1.11.0', manifest: m2 })
    );
    expect(result.julia_direction).toBe('upgraded');
    expect(result.manifest_format).toEqual({
      before: '1.0',
      after: '2.0',
      changed: true
    });
    expect(result.groups).toEqual([]);
    // No manifest on one side: the format is not compared.
    expect(
      compareRuns(side({ manifest: m1 }), side({})).manifest_format.changed
    ).toBe(false);
  });
});

describe('the grouped package view', () => {
  const run = (id: number, julia: string) =>
    ({
      id,
      number: id,
      notebook_path: 'analysis.ipynb',
      julia_version: julia
    }) as IRunSummary;

  function view(beforeJulia: string, afterJulia: string) {
    const a = run(1, beforeJulia);
    const b = run(2, afterJulia);
    const result = compareRuns(
      side({
        julia_version: beforeJulia,
        manifest: manifest([
          ['Direct', 1, '1.0.0'],
          ['T1', 2, '1.0.0'],
          ['T2', 3, '1.0.0']
        ]),
        project: project([['Direct', 1]])
      }),
      side({
        julia_version: afterJulia,
        manifest: manifest([
          ['Direct', 1, '1.1.0'],
          ['T1', 2, '1.1.0'],
          ['T2', 3, '1.0.1'],
          ['Added', 4, '0.1.0']
        ]),
        project: project([['Direct', 1]])
      })
    );
    const notebooks = [
      { run: a, sha256: null },
      { run: b, sha256: null }
    ] as const;
    return new CompareView(
      trans,
      { result, unreadable: [], notebooks: [...notebooks] },
      a,
      b
    ).node;
  }

  it('shows groups in order with counts, direct rows, transitive rows collapsed', () => {
    const node = view('1.10.4', '1.10.4');
    const groups = [
      ...node.querySelectorAll('section.jp-DearDiary-changeGroup')
    ];
    expect(groups.map(g => (g as HTMLElement).dataset.kind)).toEqual([
      'added',
      'upgraded'
    ]);
    const upgraded = groups[1] as HTMLElement;
    // Text and a mark say what the colour says.
    expect(upgraded.querySelector('h4')!.textContent).toBe(
      '▲ upgraded 3 1 direct, 2 transitive'
    );
    expect(upgraded.classList).toContain('jp-mod-upgraded');
    // The direct dependency is a visible table row; the transitive ones are in a
    // closed <details> whose summary counts them.
    const direct = upgraded.querySelector(':scope > table')!;
    expect(
      [
        ...direct.querySelectorAll('tr.jp-DearDiary-diff-row td:first-child')
      ].map(td => td.textContent)
    ).toEqual(['Direct']);
    const details = upgraded.querySelector('details')!;
    expect(details.open).toBe(false);
    expect(details.querySelector('summary')!.textContent).toBe(
      '2 transitive dependencies'
    );
    expect(
      [...details.querySelectorAll('td:first-child')].map(td => td.textContent)
    ).toEqual(['T1', 'T2']);
    // The added package is transitive only: no direct table in its group.
    expect(groups[0].querySelector(':scope > table')).toBeNull();
    expect(groups[0].querySelector('summary')!.textContent).toBe(
      '1 transitive dependency'
    );
    expect(node.querySelector('.jp-DearDiary-envChanges')).toBeNull();
    expect([...node.querySelectorAll('dd')].map(d => d.textContent)).toContain(
      '1 added, 3 upgraded'
    );
  });

  it('puts a Julia change on top of the groups', () => {
    const node = view('1.11.2', '1.10.4');
    const section = node.querySelector('section.jp-DearDiary-packages')!;
    const first = section.firstElementChild as HTMLElement;
    expect(first.className).toBe('jp-DearDiary-envChanges');
    const item = first.querySelector('li')!;
    expect(item.dataset.change).toBe('julia');
    expect(item.classList).toContain('jp-mod-downgraded');
    expect(item.textContent).toBe('▼ Julia 1.11.2 → 1.10.4 (downgraded)');
  });
});
