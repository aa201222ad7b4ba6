/**
 * A workspace member restored through a real jupyter_server and the real restore
 * endpoint (one POST per folder) lands in its workspace layout: every `path =` of the
 * root manifest and every `[sources]` path of the restored projects resolves to a
 * restored project folder, byte-exact. The flat layout restores wrote before does not.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ContentsManager } from '@jupyterlab/services';
import { parseManifest, parseProject } from '../manifest/parse';
import { restoreRequest } from '../restore/plan';
import {
  listFolder,
  workspaceLayout,
  workspaceRequests,
  writeWorkspace
} from '../restore/workspace';
import { DearDiaryAPI } from '../server/api';
import { FakeStoreAPI, makeStore } from './helpers/sqljs';
import { useServer } from './helpers/server';
import { ribasim, workspaceRun } from './helpers/workspace';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** `path =` entries (manifest, and every project's [sources]) that resolve to no project folder. */
function unresolved(folder: string): string[] {
  const bad: string[] = [];
  const resolves = (dir: string) =>
    ['JuliaProject.toml', 'Project.toml'].some(n =>
      fs.existsSync(path.join(dir, n))
    );
  const manifest = parseManifest(
    fs.readFileSync(path.join(folder, 'Manifest.toml'), 'utf8')
  );
  for (const p of manifest.packages) {
    if (p.path !== null && !resolves(path.resolve(folder, p.path))) {
      bad.push(`${p.name} (${p.path})`);
    }
  }
  const projects = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap(e =>
        e.isDirectory()
          ? projects(path.join(dir, e.name))
          : e.name === 'Project.toml'
            ? [path.join(dir, e.name)]
            : []
      );
  for (const file of projects(folder)) {
    const project = parseProject(fs.readFileSync(file, 'utf8'));
    for (const [name, source] of Object.entries(project.sources)) {
      if (
        source.path &&
        !resolves(path.resolve(path.dirname(file), source.path))
      ) {
        bad.push(
          `${name} (${source.path} from ${path.relative(folder, file)})`
        );
      }
    }
  }
  return bad;
}

describe('workspace restore against a real server', () => {
  const suite = useServer();
  let api: DearDiaryAPI;
  let contents: ContentsManager;
  beforeAll(() => {
    // @jupyterlab/services logs the body of every 404 (a folder not there yet)
    jest.spyOn(console, 'debug').mockImplementation(() => undefined);
    api = new DearDiaryAPI(suite.server.settings);
    contents = new ContentsManager({ serverSettings: suite.server.settings });
  });
  afterAll(() => contents.dispose());

  async function restoreInto(target: string, confirm = async () => true) {
    const store = makeStore(new FakeStoreAPI());
    const { run: summary } = await store.addRun(workspaceRun());
    const run = await store.getRun(summary.id);
    const layout = workspaceLayout(run);
    expect(layout).not.toBeNull();
    const requests = await workspaceRequests(run, layout!, target, s =>
      store.getBlob(s)
    );
    const result = await writeWorkspace({
      requests,
      layout: layout!,
      restore: r => api.restore(r),
      list: p => listFolder(contents, p),
      confirm
    });
    return { run, store, result };
  }

  it('writes the workspace layout: root Project + Manifest, each member in its folder, the notebook beside its project', async () => {
    const { result } = await restoreInto('restored/ws');
    const root = path.join(suite.server.root, 'restored', 'ws');
    const on = (rel: string) =>
      new Uint8Array(fs.readFileSync(path.join(root, rel)));
    for (const rel of [
      'Project.toml',
      'Manifest.toml',
      'core/Project.toml',
      'core/test/Project.toml'
    ]) {
      expect(sha(on(rel))).toBe(sha(ribasim(rel)));
    }
    expect(new TextDecoder().decode(on('core/model.ipynb'))).toBe(
      '{"cells": []}'
    );
    expect(unresolved(root)).toEqual([]);

    // One result: the workspace root as target, the notebook and project of the member
    // (what reopen opens and activates), every file verified.
    expect(result).toMatchObject({
      target: 'restored/ws',
      entrypoint: 'core/model.ipynb',
      project_path: path.join(root, 'core'),
      project_file: path.join(root, 'core', 'Project.toml')
    });
    expect(result!.files.map(f => [f.name, f.verified])).toEqual([
      ['Manifest.toml', true],
      ['Project.toml', true],
      ['core/Project.toml', true],
      ['core/model.ipynb', true],
      ['core/test/Project.toml', true]
    ]);
    expect(fs.existsSync(path.join(root, result!.entrypoint!))).toBe(true);
  });

  it('finds the files of an earlier restore first: kept, nothing is written; replaced, all are', async () => {
    const root = path.join(suite.server.root, 'restored', 'again');
    await restoreInto('restored/again');
    fs.writeFileSync(path.join(root, 'core', 'Project.toml'), 'changed\n');
    const asked: string[][] = [];
    const kept = await restoreInto('restored/again', async () => {
      asked.push([]);
      return false;
    });
    expect(kept.result).toBeNull();
    expect(asked.length).toBe(1);
    expect(
      fs.readFileSync(path.join(root, 'core', 'Project.toml'), 'utf8')
    ).toBe('changed\n');
    const replaced = await restoreInto('restored/again', async () => true);
    expect(replaced.result).not.toBeNull();
    expect(
      sha(
        new Uint8Array(fs.readFileSync(path.join(root, 'core', 'Project.toml')))
      )
    ).toBe(sha(ribasim('core/Project.toml')));
  });

  it('control: the flat layout leaves the workspace path unresolved', async () => {
    const store = makeStore(new FakeStoreAPI());
    const { run: summary } = await store.addRun(workspaceRun());
    const run = await store.getRun(summary.id);
    await api.restore(
      await restoreRequest(run, 'restored/flat', s => store.getBlob(s))
    );
    expect(
      unresolved(path.join(suite.server.root, 'restored', 'flat'))
    ).toEqual(['Ribasim (core)']);
  });
});
