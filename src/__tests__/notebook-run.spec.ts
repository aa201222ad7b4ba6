/**
 * Issue 16: a notebook knows its run. metadata.deardiary's shape (nothing secret), the
 * link to a run by snapshot id or, in another store, by hashes; drift against that run;
 * the editor's content recorded (the saved file too when it differs); the metadata
 * written after the recording, never counted as the user's edit.
 */
import { Signal } from '@lumino/signaling';
import { ICapture } from '../kernel/protocol';
import { driftByHashes } from '../manifest/drift';
import { NotebookRecorder } from '../recorder/notebook-recorder';
import {
  notebookText,
  pyNumber,
  pySplitLines
} from '../recorder/notebook-bytes';
import { Recorder } from '../recorder/recorder';
import {
  driftBaseline,
  IRunMetadata,
  linkRun,
  parseRunMetadata,
  runMetadata,
  sameMetadata
} from '../recorder/run-metadata';
import { trackUserEdits } from '../recorder/unsaved';
import { prepare } from '../store/prepare';
import { IRunInput, IRunSummary } from '../store/types';
import { describeLink } from '../widgets/notebook-run-text';
import {
  capturedFile,
  fingerprint,
  LINUX,
  recorderDeps,
  runSummary
} from './helpers/fixtures';
import { trans as ENGLISH } from './helpers/trans';

const P = 'a'.repeat(64);
const M = 'b'.repeat(64);
const M2 = 'c'.repeat(64);

/** The active project's files (paths the metadata must not show) and a stacked environment's manifest. */
function capture(manifest = M, julia = '1.5.3'): ICapture {
  const base = fingerprint({
    dir: '/home/u/secret/p',
    julia,
    project: P,
    manifest
  });
  const envManifest = '/home/u/.julia/environments/v1.5/Manifest.toml';
  return {
    ...base,
    files: [
      ...base.files,
      capturedFile('env_manifest', envManifest, M2, { env: 2 })
    ],
    sys: { ...LINUX, depot_path: ['/home/u/.julia'], pwd: '/home/u' }
  };
}

function summary(id: number, over: Partial<IRunSummary> = {}): IRunSummary {
  return runSummary(id, {
    snapshot_id: `snap-${id}`,
    notebook_path: 'dir/nb.ipynb',
    status: 'ok',
    created_at: `2026-01-0${id}T00:00:00.000Z`,
    manifest_sha256: M,
    project_sha256: P,
    project_path: '/home/u/secret/p/Project.toml',
    ...over
  });
}

describe('metadata.deardiary', () => {
  it('names the run, its date, Julia and the active project files by name and sha256: no paths, no environment', () => {
    const meta = runMetadata(summary(2), capture());
    expect(meta).toEqual({
      format: 1,
      run_id: 2,
      run_number: 2,
      snapshot_id: 'snap-2',
      created_at: '2026-01-02T00:00:00.000Z',
      julia_version: '1.5.3',
      project: { name: 'Project.toml', sha256: P },
      manifest: { name: 'Manifest.toml', sha256: M }
    });
    const text = JSON.stringify(meta);
    expect(text).not.toContain('/home');
    expect(text).not.toContain('secret');
    expect(text).not.toContain(M2); // a stacked environment is not the notebook's
  });

  it('reads back what it wrote, and nothing of another shape', () => {
    const meta = runMetadata(summary(1), capture());
    expect(parseRunMetadata(JSON.parse(JSON.stringify(meta)))).toEqual(meta);
    expect(sameMetadata(JSON.parse(JSON.stringify(meta)), meta)).toBe(true);
    expect(sameMetadata(undefined, meta)).toBe(false);
    for (const bad of [
      null,
      'run 1',
      [],
      { ...meta, format: 2 },
      { ...meta, snapshot_id: '' },
      { ...meta, manifest: { name: 'Manifest.toml', sha256: 'xyz' } },
      { ...meta, julia_version: 1.5 }
    ]) {
      expect(parseRunMetadata(bad)).toBeNull();
    }
    // A run without a manifest.
    expect(parseRunMetadata({ ...meta, manifest: null })?.manifest).toBeNull();
  });
});

describe('the link to a run', () => {
  const runs = [
    summary(1),
    summary(2),
    summary(3, { notebook_path: 'other.ipynb' })
  ];

  it('finds the run by snapshot id (store ids differ between machines)', () => {
    const meta = { ...runMetadata(summary(1), capture()), run_id: 99 };
    const link = linkRun(meta, runs);
    expect(link.state).toBe('run');
    expect(link.state === 'run' && link.run.id).toBe(1);
  });

  it('keeps the hashes when the run is not in this store', () => {
    const meta = runMetadata(summary(7), capture());
    expect(linkRun(meta, runs)).toEqual({ state: 'elsewhere', metadata: meta });
  });

  it('words: run number, Julia and the manifest short; another store by its manifest', () => {
    const meta = runMetadata(summary(2), capture());
    expect(describeLink(ENGLISH, linkRun(meta, runs))?.text).toBe(
      'outputs from run #2 · Julia 1.5.3 · manifest bbbb…'
    );
    const elsewhere = describeLink(
      ENGLISH,
      linkRun(runMetadata(summary(7), capture()), runs)
    )!;
    expect(elsewhere.text).toBe(
      'outputs from a run not in this store · manifest bbbb…'
    );
    expect(elsewhere.title).toContain(`Manifest.toml: ${M}`);
    expect(describeLink(ENGLISH, null)).toBeNull();
  });
});

describe('drift against the run behind the outputs', () => {
  const older = summary(1, { manifest_sha256: M });
  const newer = summary(2, { manifest_sha256: M2 });

  it('takes the run the metadata names, even when a newer run exists', () => {
    const meta = runMetadata(older, capture());
    expect(driftBaseline([newer, older], 'dir/nb.ipynb', meta)).toEqual({
      kind: 'run',
      run: older,
      fromMetadata: true
    });
  });

  it('takes the last run of the notebook without metadata, and none without runs', () => {
    expect(driftBaseline([older, newer], 'dir/nb.ipynb', null)).toEqual({
      kind: 'run',
      run: newer,
      fromMetadata: false
    });
    expect(driftBaseline([older], 'elsewhere.ipynb', null)).toEqual({
      kind: 'none'
    });
  });

  it('compares by the hashes when the run is not in this store', () => {
    const meta = runMetadata(summary(9), capture());
    expect(driftBaseline([older], 'dir/nb.ipynb', meta)).toEqual({
      kind: 'hashes',
      metadata: meta
    });
    expect(driftByHashes(meta, capture())).toEqual({
      state: 'same',
      changes: []
    });
    expect(driftByHashes(meta, capture(M2, '1.10.4')).changes).toEqual([
      { code: 'julia', before: '1.5.3', after: '1.10.4' },
      { code: 'changed', name: 'Manifest.toml' }
    ]);
    const renamed = capture();
    renamed.files[1] = { ...renamed.files[1], name: 'Manifest-v1.11.toml' };
    expect(driftByHashes(meta, renamed).changes).toEqual([
      {
        code: 'renamed',
        role: 'manifest',
        before: 'Manifest.toml',
        after: 'Manifest-v1.11.toml',
        same_content: true
      }
    ]);
    const gone = capture();
    gone.files = gone.files.filter(f => f.role !== 'manifest');
    expect(driftByHashes(meta, gone).changes).toEqual([
      { code: 'gone', role: 'manifest', name: 'Manifest.toml' }
    ]);
    expect(driftByHashes(meta, null).state).toBe('unknown');
  });
});

describe('the notebook as a save writes it', () => {
  it("splits lines as Python's splitlines(True)", () => {
    expect(pySplitLines('')).toEqual([]);
    expect(pySplitLines('a\r\nb\rc\u2028d\x0be\n')).toEqual([
      'a\r\n',
      'b\r',
      'c\u2028',
      'd\x0b',
      'e\n'
    ]);
    expect(pySplitLines('no end')).toEqual(['no end']);
  });

  it("writes numbers as Python's json writes what it read", () => {
    expect(
      [0.1, 1e-7, 1e21, 1e20, -2.5e-5, 1.5e300, 3, 0.0001, 1234.5].map(pyNumber)
    ).toEqual([
      '0.1',
      '1e-07',
      '1e+21',
      '100000000000000000000',
      '-2.5e-05',
      '1.5e+300',
      '3',
      '0.0001',
      '1234.5'
    ]);
  });

  it('sorts keys, indents by one, drops transient metadata, ends with a newline', () => {
    const text = notebookText({
      nbformat: 4,
      metadata: { b: 1, a: 2, orig_nbformat: 4 },
      cells: [
        {
          cell_type: 'code',
          source: 'x\ny',
          metadata: { trusted: true },
          outputs: []
        }
      ]
    });
    expect(text).toBe(
      '{\n "cells": [\n  {\n   "cell_type": "code",\n   "metadata": {},\n   "outputs": [],\n   "source": [\n    "x\\n",\n    "y"\n   ]\n  }\n ],\n "metadata": {\n  "a": 2,\n  "b": 1\n },\n "nbformat": 4\n}\n'
    );
  });
});

/** A Recorder whose saved notebook file is `saved` (an Error: it cannot be read). */
function savedAs(saved: string | Error) {
  return recorderDeps({
    git: async () => ({ path: 'dir/nb.ipynb', repo: false }),
    readFile: async () => {
      if (saved instanceof Error) {
        throw saved;
      }
      return new TextEncoder().encode(saved);
    }
  });
}

/** The run without its captured files (their hashes here are made up). */
const withoutFiles = (run: IRunInput): IRunInput => ({
  ...run,
  capture: { ...run.capture, files: [] }
});

const MODEL = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [
    {
      id: 'a',
      cell_type: 'code',
      source: 'unsaved_cell = 1',
      metadata: {},
      outputs: [],
      execution_count: null
    }
  ]
};

describe('the editor content recorded', () => {
  const request = {
    notebookPath: 'dir/nb.ipynb',
    unsaved: true,
    kernel: { name: 'j', display_name: 'J', language: 'julia' },
    capture: capture(),
    capturedAt: new Date('2026-01-02T03:04:05Z'),
    trigger: 'button' as const
  };

  it("records the editor's bytes and keeps the saved file's when they differ", async () => {
    const { deps, runs } = savedAs(notebookText({ ...MODEL, cells: [] }));
    const recorder = new Recorder(deps);
    const model = JSON.parse(JSON.stringify(MODEL));
    const gathered = recorder.gather('dir/nb.ipynb', model);
    model.cells[0].source = 'typed after the click'; // taken at the click, not later
    await recorder.record({ ...request, gathered });
    const nb = runs[0].notebook;
    expect(nb.origin).toBe('editor');
    expect(new TextDecoder().decode(nb.bytes!)).toBe(notebookText(MODEL));
    expect(new TextDecoder().decode(nb.saved!.bytes!)).toBe(
      notebookText({ ...MODEL, cells: [] })
    );
    // Both reach the store as blobs; the record names the saved one.
    const prepared = await prepare(withoutFiles(runs[0]));
    expect(prepared.record.notebook.saved).toEqual({
      sha256: nb.saved!.sha256,
      size: nb.saved!.size,
      stored: true
    });
    expect(prepared.blobs.map(b => b.sha256)).toEqual(
      expect.arrayContaining([nb.sha256, nb.saved!.sha256])
    );
  });

  it('keeps no second copy when the saved file is the same, or cannot be read', async () => {
    for (const saved of [notebookText(MODEL), new Error('gone')]) {
      const { deps, runs } = savedAs(saved);
      const recorder = new Recorder(deps);
      await recorder.record({
        ...request,
        gathered: recorder.gather('dir/nb.ipynb', MODEL)
      });
      expect(runs[0].notebook.saved).toBeNull();
      expect(runs[0].notebook.origin).toBe('editor');
      expect(
        (await prepare(withoutFiles(runs[0]))).record.notebook
      ).not.toHaveProperty('saved');
    }
  });

  it('records the saved file when there is no editor content', async () => {
    const { deps, runs } = savedAs('{"saved": true}');
    await new Recorder(deps).record(request);
    expect(runs[0].notebook.origin).toBe('file');
    expect(new TextDecoder().decode(runs[0].notebook.bytes!)).toBe(
      '{"saved": true}'
    );
  });
});

describe('the metadata written by a snapshot', () => {
  function panel() {
    const metadata: Record<string, unknown> = {};
    const fileChanged = new Signal<any, any>({});
    const state = { dirty: false, json: JSON.parse(JSON.stringify(MODEL)) };
    const model = {
      get dirty() {
        return state.dirty;
      },
      toJSON: () => ({
        ...JSON.parse(JSON.stringify(state.json)),
        metadata: { ...metadata }
      })
    };
    const context = { ready: Promise.resolve(), fileChanged, model };
    const unsaved = trackUserEdits(context);
    const writes: IRunMetadata[] = [];
    const setMetadata = (value: IRunMetadata) => {
      metadata.deardiary = value;
      state.dirty = true; // as JupyterLab's model: any change makes it dirty
      writes.push(value);
    };
    return { model, unsaved, writes, setMetadata, metadata };
  }

  it('is written after the run is recorded, the run does not contain it, and it is not an unsaved edit', async () => {
    const p = panel();
    await Promise.resolve();
    const { deps, runs } = savedAs(notebookText(MODEL));
    const bridge = {
      snapshotReceived: new Signal<any, any>({}),
      isJulia: async () => true,
      capture: async () => capture(),
      claim: async () => true,
      fingerprint: async () => capture(),
      ping: async () => undefined
    };
    const context = {
      statusChanged: new Signal<any, string>({}),
      kernelChanged: new Signal<any, any>({}),
      session: { kernel: { name: 'j', status: 'busy' } },
      kernelDisplayName: 'J'
    };
    const c = new NotebookRecorder({
      notebook: {
        sessionContext: context as any,
        path: () => 'dir/nb.ipynb',
        unsaved: p.unsaved,
        content: () => p.model.toJSON(),
        markRun: meta => {
          if (!sameMetadata(p.metadata.deardiary, meta)) {
            p.setMetadata(meta);
          }
        }
      },
      bridge: bridge as any,
      recorder: new Recorder(deps),
      mode: () => 'off'
    });
    const first = await c.snapshot();
    expect(p.writes).toEqual([runMetadata(first.run, capture())]);
    expect(p.model.toJSON().metadata.deardiary).toEqual(p.writes[0]);
    // The run recorded the notebook before the metadata was written.
    expect(new TextDecoder().decode(runs[0].notebook.bytes!)).not.toContain(
      'deardiary'
    );
    expect(runs[0].notebook.unsaved_changes).toBe(false);
    // The write made the model dirty, but it is not the user's edit.
    expect(p.model.dirty).toBe(true);
    expect(p.unsaved()).toBe(false);

    // The next snapshot records the previous run's metadata and writes its own.
    const second = await c.snapshot();
    expect(new TextDecoder().decode(runs[1].notebook.bytes!)).toContain(
      '"snapshot_id": "' + first.run.snapshot_id
    );
    expect(p.writes.map(w => w.snapshot_id)).toEqual([
      first.run.snapshot_id,
      second.run.snapshot_id
    ]);
    expect(runs[1].notebook.unsaved_changes).toBe(false);
    c.dispose();
  });
});
