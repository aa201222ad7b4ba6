import * as fs from 'fs';
import * as path from 'path';
import { ICapture } from '../kernel/protocol';
import { hintMessage } from '../manifest/words';
import { IHint, restoreHints } from '../manifest/hints';
import { decodeText, IManifest, parseManifest } from '../manifest/parse';
import { RunGit } from '../store/types';
import { fingerprint } from './helpers/fixtures';
import { trans } from './helpers/trans';

/** The words of a hint, as the views show them. */
const message = (hint: IHint) => hintMessage(trans, hint);

const FIXTURES = path.join(__dirname, 'fixtures', 'manifests');

function manifestOf(dir: string): IManifest {
  return parseManifest(
    decodeText(
      new Uint8Array(fs.readFileSync(path.join(FIXTURES, dir, 'Manifest.toml')))
    )
  );
}

function capture(extra: Partial<ICapture> = {}): ICapture {
  return fingerprint({ julia: '1.11.7' }, extra);
}

const clean: RunGit = {
  state: 'ok',
  git: { path: 'p', repo: true, head_sha: 'c'.repeat(40), dirty: false }
};

const small = manifestOf('format-migration-cgcoefficient/446597c'); // Julia 1.7.1

describe('restoreHints', () => {
  it('says nothing about a clean, complete run', () => {
    expect(
      restoreHints({
        capture: capture({ julia_version: '1.7.3' }),
        manifest: small,
        git: clean
      })
    ).toEqual([]);
  });

  it('warns about path dependencies, but not about the project itself', () => {
    const kora = manifestOf('path-dev-kora-dashboard');
    const [hint, ...rest] = restoreHints({
      capture: capture(),
      manifest: kora,
      git: clean
    });
    expect(rest).toEqual([]);
    expect(hint).toMatchObject({
      code: 'path-dependency',
      severity: 'warning',
      packages: ['Kora']
    });
    expect(message(hint)).toContain('Kora (../Kora.jl)');

    const herb = manifestOf('repo-url-herb-refactoring'); // path = "." only
    expect(
      restoreHints({
        capture: capture({ julia_version: '1.12.6' }),
        manifest: herb,
        git: clean
      })
    ).toEqual([]);

    const ribasim = manifestOf('workspace-ribasim'); // a workspace member: path = "core"
    const hints = restoreHints({
      capture: capture({ julia_version: '1.12.7' }),
      manifest: ribasim,
      git: clean
    });
    expect(hints.map(h => [h.code, h.packages])).toEqual([
      ['path-dependency', ['Ribasim']]
    ]);
  });

  it('warns when the manifest was resolved by another Julia major.minor', () => {
    const hints = restoreHints({
      capture: capture({ julia_version: '1.11.7' }),
      manifest: small,
      git: clean
    });
    expect(hints).toHaveLength(1);
    expect(hints[0]).toMatchObject({
      code: 'julia-mismatch',
      severity: 'warning'
    });
    expect(message(hints[0])).toContain('Julia 1.7.1');
    expect(message(hints[0])).toContain('Julia 1.11.7');
    expect(message(hints[0])).toContain('Restore with Julia 1.7');
    // Another patch release is fine.
    expect(
      restoreHints({
        capture: capture({ julia_version: '1.7.0' }),
        manifest: small,
        git: clean
      })
    ).toEqual([]);
  });

  it('notes an old-format manifest under Julia 1.7 or later', () => {
    const v1 = manifestOf('repo-url-v1-grpc');
    const hints = restoreHints({
      capture: capture({ julia_version: '1.10.0' }),
      manifest: v1,
      git: clean
    });
    expect(hints.map(h => [h.code, h.severity])).toEqual([
      ['julia-mismatch', 'info']
    ]);
    expect(
      restoreHints({
        capture: capture({ julia_version: '1.6.7' }),
        manifest: v1,
        git: clean
      })
    ).toEqual([]);
  });

  it('warns when there is no manifest', () => {
    const c = capture({ manifest: null });
    c.files = c.files.filter(f => f.role === 'project');
    const hints = restoreHints({ capture: c, manifest: null, git: clean });
    expect(hints.map(h => [h.code, h.severity])).toEqual([
      ['no-manifest', 'warning']
    ]);
    expect(message(hints[0])).toMatch(/Pkg\.instantiate\(\)/);
  });

  it('warns when there is no project, without also saying "no manifest"', () => {
    const hints = restoreHints({
      capture: capture({ project: null, manifest: null, files: [] }),
      manifest: null,
      git: clean
    });
    expect(hints.map(h => h.code)).toEqual(['no-project']);
    const missing = capture({
      project: { path: '/x/Project.toml', exists: false, is_global: false },
      manifest: null,
      files: []
    });
    expect(
      restoreHints({ capture: missing, manifest: null, git: clean }).map(
        h => h.code
      )
    ).toEqual(['no-project']);
  });

  it('notes the global environment', () => {
    const c = capture({
      project: {
        path: '/home/me/.julia/environments/v1.11/Project.toml',
        exists: true,
        is_global: true
      }
    });
    const hints = restoreHints({ capture: c, manifest: null, git: clean });
    expect(hints.map(h => [h.code, h.severity])).toEqual([
      ['global-environment', 'info']
    ]);
  });

  it('warns about dirty changes the patch does not hold', () => {
    const dirty = (extra: object): RunGit => ({
      state: 'ok',
      git: {
        path: 'p',
        repo: true,
        head_sha: 'c'.repeat(40),
        dirty: true,
        patch: 'diff',
        ...extra
      }
    });
    const run = (git: RunGit) =>
      restoreHints({
        capture: capture({ julia_version: '1.7.1' }),
        manifest: small,
        git
      });
    expect(
      run(dirty({ truncated: false, untracked_count: 0, binary_files: [] }))
    ).toEqual([]);
    const [hint] = run(
      dirty({
        truncated: true,
        patch_bytes: 2097152,
        untracked_count: 3,
        binary_files: ['img.png']
      })
    );
    expect(hint).toMatchObject({
      code: 'dirty-uncaptured',
      severity: 'warning'
    });
    expect(message(hint)).toContain(
      'the patch (2097152 bytes) was cut at the size cap'
    );
    expect(message(hint)).toContain('3 untracked files');
    expect(message(hint)).toContain('img.png');
    expect(message(run(dirty({ untracked_count: 1 }))[0])).toContain(
      'did not store: 1 untracked file.'
    );
    // Not dirty, no repository, or an unknown git state: nothing to say.
    expect(run({ state: 'ok', git: { path: 'p', repo: false } })).toEqual([]);
    expect(run({ state: 'unknown', error_code: 'x', message: 'y' })).toEqual(
      []
    );
    expect(
      run({
        state: 'ok',
        git: { path: 'p', repo: true, dirty: false, untracked_count: 4 }
      })
    ).toEqual([]);
  });

  it('lists several hints in a fixed order', () => {
    const c = capture({
      julia_version: '1.12.0',
      project: {
        path: '/home/me/.julia/environments/v1.12/Project.toml',
        exists: true,
        is_global: true
      }
    });
    const git: RunGit = {
      state: 'ok',
      git: { path: 'p', repo: true, dirty: true, truncated: true }
    };
    const hints = restoreHints({
      capture: c,
      manifest: manifestOf('path-dev-kora-dashboard'),
      git
    });
    expect(hints.map(h => h.code)).toEqual([
      'global-environment',
      'julia-mismatch',
      'path-dependency',
      'dirty-uncaptured'
    ]);
    for (const h of hints) {
      expect(message(h).length).toBeGreaterThan(40);
    }
  });
});
