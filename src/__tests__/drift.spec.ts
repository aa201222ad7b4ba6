import { ICapture } from '../kernel/protocol';
import {
  drift as findDrift,
  environmentOf,
  IEnvironment as IDriftRun
} from '../manifest/drift';
import { driftText } from '../manifest/words';
import { fingerprint } from './helpers/fixtures';
import { trans } from './helpers/trans';

/** drift with its changes in words, as the sidebar shows them. */
function drift(run: IDriftRun | null, live: ICapture | null) {
  const { state, changes } = findDrift(run, live);
  return { state, changes: changes.map(c => driftText(trans, c)) };
}

const P = 'a'.repeat(64);
const M = 'b'.repeat(64);

function lastRun(extra: Partial<IDriftRun> = {}): IDriftRun {
  return {
    julia_version: '1.11.7',
    project_path: '/work/p/Project.toml',
    files: [
      {
        role: 'project',
        name: 'Project.toml',
        path: '/work/p/Project.toml',
        sha256: P
      },
      {
        role: 'manifest',
        name: 'Manifest.toml',
        path: '/work/p/Manifest.toml',
        sha256: M
      }
    ],
    ...extra
  };
}

function live(extra: Partial<ICapture> = {}): ICapture {
  return fingerprint({ julia: '1.11.7', project: P, manifest: M }, extra);
}

describe('drift', () => {
  it('has nothing to compare without a run or without a fingerprint', () => {
    expect(drift(null, live())).toEqual({ state: 'no-run', changes: [] });
    expect(drift(null, null)).toEqual({ state: 'no-run', changes: [] });
    expect(drift(lastRun(), null)).toEqual({ state: 'unknown', changes: [] });
  });

  it('is the same when nothing changed (other system facts do not count)', () => {
    const l = live();
    l.sys.nthreads = 4;
    expect(drift(lastRun(), l)).toEqual({ state: 'same', changes: [] });
  });

  it('reports a new Julia version', () => {
    expect(drift(lastRun(), live({ julia_version: '1.12.0' }))).toEqual({
      state: 'changed',
      changes: ['Julia 1.11.7 → 1.12.0']
    });
  });

  it('reports a changed manifest and project file', () => {
    const l = live();
    l.files[1].sha256 = 'c'.repeat(64);
    expect(drift(lastRun(), l).changes).toEqual(['Manifest.toml changed']);
    l.files[0].sha256 = 'd'.repeat(64);
    expect(drift(lastRun(), l).changes).toEqual([
      'Project.toml changed',
      'Manifest.toml changed'
    ]);
  });

  it('reports another active environment', () => {
    const l = live({
      project: { path: '/work/q/Project.toml', exists: true, is_global: false }
    });
    l.files.forEach(f => (f.path = (f.path as string).replace('/p/', '/q/')));
    expect(drift(lastRun(), l)).toEqual({
      state: 'changed',
      changes: ['active project /work/p/Project.toml → /work/q/Project.toml']
    });
    expect(
      drift(lastRun(), live({ project: null, manifest: null, files: [] }))
        .changes
    ).toEqual([
      'active project /work/p/Project.toml → none',
      'Project.toml is gone (the kernel has no project file)',
      'Manifest.toml is gone (the kernel has no manifest)'
    ]);
  });

  it('decodes a path that travelled as bytes', () => {
    const l = live({
      project: {
        path: { b64: btoa('/work/p/Project.toml') },
        exists: true,
        is_global: false
      }
    });
    expect(drift(lastRun(), l).state).toBe('same');
  });

  it('reports a manifest that appeared, and a switch to a versioned manifest', () => {
    const noManifest = lastRun();
    noManifest.files = noManifest.files.slice(0, 1);
    expect(drift(noManifest, live()).changes).toEqual([
      'Manifest.toml now exists (the run had no manifest)'
    ]);

    const l = live();
    l.files[1] = {
      ...l.files[1],
      name: 'Manifest-v1.11.toml',
      path: '/work/p/Manifest-v1.11.toml'
    };
    expect(drift(lastRun(), l).changes).toEqual([
      'manifest Manifest.toml → Manifest-v1.11.toml (same content)'
    ]);
    l.files[1].sha256 = 'e'.repeat(64);
    expect(drift(lastRun(), l).changes).toEqual([
      'manifest Manifest.toml → Manifest-v1.11.toml'
    ]);
  });

  it('reports a manifest found elsewhere for the same project (a workspace root)', () => {
    const l = live();
    l.files[1] = { ...l.files[1], path: '/work/Manifest.toml' };
    expect(drift(lastRun(), l).changes).toEqual([
      'Manifest.toml moved: /work/p/Manifest.toml → /work/Manifest.toml'
    ]);
  });

  it('counts the other environments the kernel loads from, as automatic capture does', () => {
    const stacked = (sha: string): ICapture => {
      const l = live();
      l.files.push({
        role: 'env_manifest',
        name: 'Manifest.toml',
        path: '/home/u/.julia/environments/v1.11/Manifest.toml',
        size: 3,
        sha256: sha,
        env: 1
      });
      return l;
    };
    // A run's stored capture against the same kernel: the same environment.
    const run = environmentOf(stacked('c'.repeat(64)));
    expect(drift(run, stacked('c'.repeat(64)))).toEqual({
      state: 'same',
      changes: []
    });
    expect(drift(run, stacked('d'.repeat(64)))).toEqual({
      state: 'changed',
      changes: ['the other environments the kernel loads packages from changed']
    });
  });

  it('compares a run without a project to a kernel without one', () => {
    const none = lastRun({ project_path: null, files: [] });
    expect(
      drift(none, live({ project: null, manifest: null, files: [] }))
    ).toEqual({
      state: 'same',
      changes: []
    });
  });
});
