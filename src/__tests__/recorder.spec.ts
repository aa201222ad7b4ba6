import { Signal } from '@lumino/signaling';
import {
  AutoCaptureMode,
  NotebookRecorder
} from '../recorder/notebook-recorder';
import { capPatch, IRecorderDeps, Recorder } from '../recorder/recorder';
import { ServerError } from '../server/request';
import { ICapture } from '../kernel/protocol';
import { environmentKey, environmentOf } from '../manifest/drift';
import { fingerprint, recorderDeps } from './helpers/fixtures';

/** The project in /p: its manifest only. */
function capture(manifestSha = 'a'.repeat(64)): ICapture {
  return fingerprint({ dir: '/p', project: null, manifest: manifestSha });
}

const request = {
  notebookPath: 'nb.ipynb',
  unsaved: true,
  kernel: { name: 'julia-1.5', display_name: 'Julia 1.5.3', language: 'julia' },
  capture: capture(),
  capturedAt: new Date('2026-01-02T03:04:05Z'),
  trigger: 'button' as const
};

describe('Recorder', () => {
  it('records capture, git and the saved notebook in one run', async () => {
    const { deps: d, runs } = recorderDeps();
    await new Recorder(d).record(request);
    expect(runs).toHaveLength(1);
    const run = runs[0];
    expect(run.created_at).toBe('2026-01-02T03:04:05.000Z');
    expect(run.git).toEqual({
      state: 'ok',
      git: expect.objectContaining({ repo: true })
    });
    expect(run.notebook).toMatchObject({
      path: 'nb.ipynb',
      size: 2,
      unsaved_changes: true
    });
    expect(run.notebook.sha256).toBe(
      '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
    );
    expect(run.snapshot_id).toMatch(/^[0-9a-f]{32}-\d+$/);
  });

  it('records "no repository" when the notebook is not in one', async () => {
    const { deps: d, runs } = recorderDeps({
      git: async () => ({ path: 'nb.ipynb', repo: false })
    });
    await new Recorder(d).record(request);
    expect(runs[0].git).toEqual({
      state: 'ok',
      git: { path: 'nb.ipynb', repo: false }
    });
  });

  it('records git as unknown, with the reason, when the server fails', async () => {
    const { deps: d, runs } = recorderDeps({
      git: async () => {
        throw new ServerError(
          'git is not installed on the server',
          503,
          'git_missing'
        );
      }
    });
    await new Recorder(d).record(request);
    expect(runs[0].git).toEqual({
      state: 'unknown',
      error_code: 'git_missing',
      message: 'git is not installed on the server'
    });
  });

  it('leaves the notebook bytes out when the setting says so, keeping their hash', async () => {
    const { deps: d, runs } = recorderDeps({
      options: () => ({ keepNotebook: false, patchMaxBytes: 1000 })
    });
    await new Recorder(d).record(request);
    expect(runs[0].notebook.bytes).toBeNull();
    expect(runs[0].notebook.size).toBe(2);
  });

  it('cuts a long patch at a line end and says so', () => {
    const git = {
      path: 'x',
      repo: true,
      patch: 'line one\nline two\nline three\n'
    };
    expect(capPatch(git, 100)).toBe(git);
    const cut = capPatch(git, 15);
    expect(cut.patch).toBe('line one\n');
    expect(cut.truncated).toBe(true);
  });
});

class FakeBridge {
  /** The kernel's claims: share the Set between bridges of one kernel (tabs). */
  constructor(readonly claims = new Set<string>()) {}
  async claim(key: string) {
    const claimed = !this.claims.has(key);
    this.claims.add(key);
    return claimed;
  }
  snapshotReceived = new Signal<this, any>(this);
  julia = true;
  captures = 0;
  fingerprints = 0;
  current = capture();
  failCapture: Error | null = null;
  async isJulia() {
    return this.julia;
  }
  carriedOver: boolean[] = [];
  async capture(options: { carryOver?: boolean } = {}) {
    if (options.carryOver !== undefined) {
      this.carriedOver.push(options.carryOver);
    }
    this.captures++;
    if (this.failCapture) {
      throw this.failCapture;
    }
    return this.current;
  }
  async fingerprint() {
    this.fingerprints++;
    return this.current;
  }
  pings = 0;
  async ping() {
    this.pings++;
  }
}

function controller(
  mode: AutoCaptureMode = 'kernel-start-and-changes',
  claims = new Set<string>()
) {
  const bridge = new FakeBridge(claims);
  const context = {
    statusChanged: new Signal<any, string>({}),
    kernelChanged: new Signal<any, any>({}),
    session: { kernel: { name: 'julia-1.5' } },
    kernelDisplayName: 'Julia 1.5.3'
  };
  const { deps: d, runs } = recorderDeps();
  const events: any[] = [];
  const c = new NotebookRecorder({
    notebook: {
      sessionContext: context as any,
      path: () => 'nb.ipynb',
      unsaved: () => false
    },
    bridge: bridge as any,
    recorder: new Recorder(d),
    mode: () => mode,
    debounce: 5
  });
  c.recorded.connect((_, e) => events.push(e));
  const start = async () => {
    context.statusChanged.emit('starting');
    context.statusChanged.emit('idle');
    await settle();
  };
  return { c, bridge, context, runs, events, start };
}

const settle = (ms = 30) => new Promise(r => setTimeout(r, ms));

describe('NotebookRecorder (automatic capture)', () => {
  it('captures when the kernel is ready and stores exactly one run at the first execution', async () => {
    const { c, bridge, runs, start } = controller();
    await start();
    expect(bridge.captures).toBe(1); // before any execution
    expect(runs).toHaveLength(0);
    c.executionScheduled();
    c.executionScheduled();
    await settle();
    expect(runs).toHaveLength(1);
    expect(runs[0].trigger).toBe('kernel-start');
    expect(new Date(runs[0].created_at).getTime()).toBeLessThanOrEqual(
      new Date(runs[0].ended_at).getTime()
    );
  });

  it('records a change of environment, linked to the first run, and nothing when unchanged', async () => {
    const { c, bridge, runs, start } = controller();
    await start();
    c.executionScheduled();
    await settle();
    c.executed();
    await settle();
    expect(bridge.fingerprints).toBe(1);
    expect(runs).toHaveLength(1);
    bridge.current = capture('b'.repeat(64)); // Pkg.add changed the manifest
    c.executed();
    c.executed();
    c.executed();
    await settle();
    expect(bridge.fingerprints).toBe(2); // debounced: one check
    expect(runs).toHaveLength(2);
    expect(runs[1].trigger).toBe('environment-change');
    expect(runs[1].parent_snapshot_id).toBe(runs[0].snapshot_id);
    c.executed();
    await settle();
    expect(runs).toHaveLength(2);
  });

  it('does nothing automatically when off, and no change checks in kernel-start mode', async () => {
    const off = controller('off');
    await off.start();
    off.c.executionScheduled();
    off.c.executed();
    await settle();
    expect(off.bridge.captures).toBe(0);
    expect(off.runs).toHaveLength(0);
    expect(off.bridge.pings).toBe(1); // connected ahead: a click is not slower first

    const startOnly = controller('kernel-start');
    await startOnly.start();
    startOnly.c.executionScheduled();
    await settle();
    startOnly.c.executed();
    await settle();
    expect(startOnly.runs).toHaveLength(1);
    expect(startOnly.bridge.fingerprints).toBe(0);
  });

  it('starts over after a restart', async () => {
    const { c, context, runs, start, bridge } = controller();
    await start();
    c.executionScheduled();
    await settle();
    bridge.claims.clear(); // a new kernel process
    context.statusChanged.emit('restarting');
    context.statusChanged.emit('idle');
    await settle();
    c.executionScheduled();
    await settle();
    expect(runs.map(r => r.trigger)).toEqual(['kernel-start', 'kernel-start']);
  });

  it('records the start of the restarted kernel when JupyterLab reports the restart as a kernel change after idle', async () => {
    const { c, bridge, context, runs, start } = controller();
    await start();
    c.executionScheduled();
    await settle();
    bridge.claims.clear(); // a new kernel process
    context.statusChanged.emit('restarting');
    context.statusChanged.emit('idle');
    const kernel = context.session.kernel;
    context.kernelChanged.emit({
      name: 'kernel',
      oldValue: kernel,
      newValue: kernel
    });
    await settle();
    c.executionScheduled();
    await settle();
    expect(runs.map(r => r.trigger)).toEqual(['kernel-start', 'kernel-start']);
  });

  it('a click before the first execution is the start run: the execution adds none', async () => {
    const { c, bridge, runs, start } = controller();
    await start();
    await c.snapshot();
    c.executionScheduled();
    await settle();
    expect(runs.map(r => r.trigger)).toEqual(['button']);
    c.executed();
    await settle();
    expect(bridge.fingerprints).toBe(1); // still watching for changes
    bridge.current = capture('f'.repeat(64));
    c.executed();
    await settle();
    expect(runs.map(r => r.trigger)).toEqual(['button', 'environment-change']);
    expect(runs[1].parent_snapshot_id).toBe(runs[0].snapshot_id);
  });

  it('reads git and the notebook while the kernel captures, not after', async () => {
    const { c, bridge, runs, start } = controller();
    await start();
    const order: string[] = [];
    const recorder = (c as any)._recorder as Recorder;
    const deps = (recorder as any)._deps as IRecorderDeps;
    const git = deps.git;
    deps.git = async path => {
      order.push('git');
      return git(path);
    };
    let answer: () => void = () => undefined;
    const captured = bridge.capture.bind(bridge);
    bridge.capture = async options => {
      order.push('capture asked');
      await new Promise<void>(resolve => (answer = resolve));
      order.push('capture answered');
      return captured(options);
    };
    const click = c.snapshot();
    await settle();
    answer();
    await click;
    expect(order).toEqual(['git', 'capture asked', 'capture answered']);
    expect(runs.map(r => r.trigger)).toEqual(['button']);
    expect(runs[0].git).toMatchObject({ state: 'ok' });
  });

  it('carries a click over a restart and does not record the restarted kernel twice', async () => {
    const { c, bridge, context, runs, start } = controller();
    await start();
    c.executionScheduled();
    await settle();
    bridge.claims.clear(); // a new kernel process
    context.statusChanged.emit('restarting');
    const click = c.snapshot(); // answered once the restarted kernel is up
    context.statusChanged.emit('idle');
    // JupyterLab ends a restart with a "change" to the same kernel
    const kernel = context.session.kernel;
    context.kernelChanged.emit({
      name: 'kernel',
      oldValue: kernel,
      newValue: kernel
    });
    await settle();
    await click;
    c.executionScheduled();
    await settle();
    expect(bridge.carriedOver).toEqual([true]);
    expect(runs.map(r => r.trigger)).toEqual(['kernel-start', 'button']);
  });

  it('records no run and reports the error when the kernel fails', async () => {
    const { c, bridge, runs, events, start } = controller();
    bridge.failCapture = new Error('the kernel died');
    await start();
    c.executionScheduled();
    await settle();
    expect(runs).toHaveLength(0);
    expect(events).toEqual([
      { ok: false, trigger: 'kernel-start', error: bridge.failCapture }
    ]);
    await expect(c.snapshot()).rejects.toThrow('the kernel died');
    expect(runs).toHaveLength(0);
  });

  it('stores snapshots sent from code under their own id', async () => {
    const { bridge, runs } = controller();
    await settle();
    bridge.snapshotReceived.emit({
      snapshot_id: 'k1',
      note: 'trained',
      capture: capture()
    });
    await settle();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      snapshot_id: 'k1',
      note: 'trained',
      trigger: 'code'
    });
  });

  it('does not record non-Julia notebooks', async () => {
    const { c, bridge, runs, start } = controller();
    bridge.julia = false;
    await start();
    c.executionScheduled();
    await settle();
    expect(c.isJulia).toBe(false);
    expect(bridge.captures).toBe(0);
    expect(runs).toHaveLength(0);
  });

  it('a page reload records no start run, but still notices changes', async () => {
    const claims = new Set(['kernel-start:nb.ipynb']); // claimed before the reload
    const { c, bridge, runs, start } = controller(
      'kernel-start-and-changes',
      claims
    );
    await start();
    c.executionScheduled();
    await settle();
    expect(runs).toHaveLength(0);
    expect(bridge.captures).toBe(0); // only a fingerprint
    bridge.current = capture('d'.repeat(64));
    c.executed();
    await settle();
    expect(runs.map(r => r.trigger)).toEqual(['environment-change']);
  });

  it('two tabs of one notebook record the start and each change once', async () => {
    const claims = new Set<string>();
    const one = controller('kernel-start-and-changes', claims);
    const two = controller('kernel-start-and-changes', claims);
    two.bridge.current = one.bridge.current;
    await Promise.all([one.start(), two.start()]);
    one.c.executionScheduled();
    two.c.executionScheduled();
    await settle();
    const changed = capture('e'.repeat(64));
    one.bridge.current = changed;
    two.bridge.current = changed;
    one.c.executed();
    two.c.executed();
    await settle();
    const triggers = [...one.runs, ...two.runs].map(r => r.trigger).sort();
    expect(triggers).toEqual(['environment-change', 'kernel-start']);
  });

  it('identifies environments by Julia, project and file hashes', () => {
    expect(environmentKey(environmentOf(capture()))).toBe(
      environmentKey(environmentOf(capture()))
    );
    expect(environmentKey(environmentOf(capture()))).not.toBe(
      environmentKey(environmentOf(capture('c'.repeat(64))))
    );
  });
});
