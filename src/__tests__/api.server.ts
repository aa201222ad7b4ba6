/**
 * The typed clients against a real jupyter_server running the real server extension,
 * on real files and a real git repository.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DearDiaryAPI } from '../server/api';
import { INSTALL_HINT, requestRaw, ServerError } from '../server/request';
import { DearDiaryServer } from '../server/status';
import { startServer, useServer } from './helpers/server';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    [
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@t',
      '-c',
      'init.defaultBranch=main',
      ...args
    ],
    { cwd, encoding: 'utf8' }
  ).trim();
}

async function failure(promise: Promise<unknown>): Promise<ServerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ServerError);
    return error as ServerError;
  }
  throw new Error('expected the server to refuse');
}

describe('DearDiaryAPI against a real server', () => {
  const suite = useServer();
  let api: DearDiaryAPI;
  beforeAll(() => {
    api = new DearDiaryAPI(suite.server.settings);
  });

  it('reports its version, and the start-up check accepts it', async () => {
    const info = await api.version();
    expect(info.name).toBe('jupyterlab_deardiary');
    expect(info.api).toBe(1);
    expect(info.store_path).toBe('.deardiary/deardiary.sqlite');
    const status = await new DearDiaryServer(api).check();
    expect(status.state).toBe('ok');
  });

  it('describes the git state of a notebook in a real repository', async () => {
    const repo = path.join(suite.server.root, 'project');
    fs.mkdirSync(path.join(repo, 'nb'), { recursive: true });
    git(repo, 'init', '-q');
    fs.writeFileSync(path.join(repo, 'nb', 'a.ipynb'), '{}\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'first');
    const head = git(repo, 'rev-parse', 'HEAD');

    const clean = await api.git('project/nb/a.ipynb');
    expect(clean).toMatchObject({
      repo: true,
      head_sha: head,
      branch: 'main',
      dirty: false
    });

    fs.writeFileSync(path.join(repo, 'nb', 'a.ipynb'), '{"cells": []}\n');
    const dirty = await api.git('project/nb/a.ipynb');
    expect(dirty.dirty).toBe(true);
    expect(dirty.dirty_files).toEqual([
      expect.objectContaining({
        path: 'nb/a.ipynb',
        status: 'M',
        submodule: false
      })
    ]);
    expect(dirty.patch).toContain('+{"cells": []}');

    fs.mkdirSync(path.join(suite.server.root, 'loose'));
    expect(await api.git('loose')).toMatchObject({ repo: false });
  });

  it('refuses paths outside the root with a clear error', async () => {
    const error = await failure(api.git('../etc/passwd'));
    expect([400, 403]).toContain(error.status);
    expect(error.message).not.toMatch(/^The server answered/);
  });

  it('keeps blobs by the sha256 of their exact bytes, and never takes a whole store', async () => {
    const bytes = new Uint8Array([0x53, 0x51, 0x4c, 0, 1, 2, 255, 13, 10]);
    const digest = sha(bytes);
    const absent = sha(new Uint8Array([1]));
    expect(await api.missingBlobs([digest, absent])).toEqual([digest, absent]);
    await api.putBlob(digest, bytes);
    await api.putBlob(digest, bytes); // again: nothing changes
    expect(await api.missingBlobs([digest, absent])).toEqual([absent]);
    expect(Array.from((await api.getBlob(digest))!)).toEqual(Array.from(bytes));
    expect(await api.getBlob(absent)).toBeNull();

    const wrong = await failure(api.putBlob(absent, bytes));
    expect(wrong.status).toBe(400);
    expect(wrong.code).toBe('sha256_mismatch');
    expect(await api.missingBlobs([absent])).toEqual([absent]);

    const whole = await requestRaw(
      'store',
      { method: 'PUT', body: bytes as BodyInit },
      suite.server.settings
    );
    expect(whole.status).toBe(410);
  });

  it('restores files byte-identically and never overwrites silently', async () => {
    const bytes = Buffer.from('\ufeffname = "x"\r\n\u0000', 'utf8');
    const request = {
      target: 'restored/iteration_1',
      files: [
        {
          name: 'Manifest.toml',
          base64: bytes.toString('base64'),
          sha256: sha(bytes)
        }
      ],
      metadata: {
        julia_version: '1.5.3',
        git_sha: 'abc',
        git_dirty: false,
        entrypoint: 'a.ipynb'
      }
    };
    const result = await api.restore(request);
    expect(result.julia_version).toBe('1.5.3');
    expect(result.entrypoint).toBe('a.ipynb');
    expect(result.files).toHaveLength(1);
    expect(result.files[0]).toMatchObject({
      name: 'Manifest.toml',
      sha256: sha(bytes),
      verified: true
    });
    const onDisk = fs.readFileSync(
      path.join(suite.server.root, 'restored', 'iteration_1', 'Manifest.toml')
    );
    expect(sha(onDisk)).toBe(sha(bytes));

    const exists = await failure(api.restore(request));
    expect(exists.status).toBe(409);
    expect(exists.body.existing).toEqual(['Manifest.toml']);

    const bad = await failure(
      api.restore({
        ...request,
        target: 'other',
        files: [{ ...request.files[0], sha256: sha(Buffer.from('x')) }]
      })
    );
    expect(bad.status).toBe(400);
    expect(fs.existsSync(path.join(suite.server.root, 'other'))).toBe(false);
  });

  it('checks out the commit of a run as a worktree, patch applied', async () => {
    const repo = path.join(suite.server.root, 'coderepo');
    fs.mkdirSync(repo);
    git(repo, 'init', '-q');
    fs.writeFileSync(path.join(repo, 'nb.ipynb'), '{}\n');
    fs.writeFileSync(path.join(repo, 'code.jl'), 'f(x) = x\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'first');
    const sha = git(repo, 'rev-parse', 'HEAD');
    fs.writeFileSync(path.join(repo, 'code.jl'), 'f(x) = 2x\r\n');
    const run = await api.git('coderepo/nb.ipynb');
    git(repo, 'commit', '-qam', 'later'); // HEAD moves on

    const result = await api.worktree({
      path: 'coderepo/nb.ipynb',
      target: 'runs/1/code',
      sha,
      patch: run.patch,
      patch_truncated: run.truncated
    });
    const target = path.join(suite.server.root, 'runs', '1', 'code');
    expect(result).toEqual({
      target: 'runs/1/code',
      target_abs: fs.realpathSync(target),
      toplevel: 'coderepo',
      sha,
      patch_applied: true,
      patch_reason: null,
      applied_files: ['code.jl'],
      conflicts: [],
      skipped_binary: [],
      lfs_pointers: []
    });
    expect(fs.readFileSync(path.join(target, 'code.jl'), 'utf8')).toBe(
      'f(x) = 2x\r\n'
    );
    expect(git(target, 'rev-parse', 'HEAD')).toBe(sha);

    const taken = await failure(
      api.worktree({ path: 'coderepo', target: 'runs/1/code', sha })
    );
    expect(taken.status).toBe(409);
    expect(taken.code).toBe('target_not_empty');
    expect(taken.message).toContain('is not empty');
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(2);
  });
});

describe('a server without the server extension', () => {
  it('makes the start-up check say how to install it', async () => {
    const server = await startServer({ extension: false });
    try {
      const status = await new DearDiaryServer(
        new DearDiaryAPI(server.settings)
      ).check();
      expect(status).toEqual({ state: 'missing', message: INSTALL_HINT });
    } finally {
      await server.stop();
    }
  });
});
