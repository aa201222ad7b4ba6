/**
 * A run recorded in a member of a real Julia 1.12 workspace (fixtures/manifests/
 * workspace-ribasim: root -> core -> core/test, one root Manifest.toml with
 * `path = "core"`), as the kernel code captures it (tests/julia/manifest_rules.jl checks
 * the kernel side of the same layout).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ICapturedFile } from '../../kernel/protocol';
import type { IRunInput } from '../../store/types';
import { makeRun, sha } from './sqljs';

export const RIBASIM = path.join(
  __dirname,
  '..',
  'fixtures',
  'manifests',
  'workspace-ribasim'
);

/** The fixture's bytes by path relative to its root. */
export const ribasim = (rel: string) =>
  new Uint8Array(fs.readFileSync(path.join(RIBASIM, rel)));

/** Where the workspace was in the kernel. */
export const KERNEL_ROOT = '/home/u/ribasim';

function captured(
  role: ICapturedFile['role'],
  name: string,
  rel: string
): ICapturedFile {
  const bytes = ribasim(rel);
  return {
    role,
    name,
    path: `${KERNEL_ROOT}/${rel}`,
    size: bytes.length,
    sha256: sha(bytes),
    base64: Buffer.from(bytes).toString('base64')
  };
}

export interface IWorkspaceRunOptions {
  /** The active project's folder relative to the root ('' = the root). */
  member?: string;
  /** Leave the workspace_project files out (a run recorded before they were). */
  unrecorded?: boolean;
  /** The notebook's path in the server root. */
  notebook?: string;
}

/** A run of a notebook whose kernel ran in `member` of the ribasim workspace. */
export function workspaceRun(options: IWorkspaceRunOptions = {}): IRunInput {
  const member = options.member ?? 'core';
  const projects = [
    'Project.toml',
    'core/Project.toml',
    'core/test/Project.toml'
  ];
  const own = member ? `${member}/Project.toml` : 'Project.toml';
  const run = makeRun({
    notebook: options.notebook ?? 'ribasim/core/model.ipynb'
  });
  const files = [
    captured('project', 'Project.toml', own),
    captured('manifest', 'Manifest.toml', 'Manifest.toml')
  ];
  if (!options.unrecorded) {
    for (const rel of projects.filter(p => p !== own)) {
      files.push(captured('workspace_project', rel, rel));
    }
  }
  run.capture = {
    ...run.capture,
    julia_version: '1.12.7',
    project: { path: `${KERNEL_ROOT}/${own}`, exists: true, is_global: false },
    manifest: {
      path: `${KERNEL_ROOT}/Manifest.toml`,
      exists: true,
      found_by: 'julia'
    },
    workspace_root: member ? `${KERNEL_ROOT}/Project.toml` : null,
    files
  };
  return run;
}
