/**
 * The `deardiary` comm protocol, frontend side: types and the validation of every
 * message that comes from a kernel. See PROTOCOL.md beside this file.
 */
import { fromBase64, sha256 } from '../bytes';

/** The protocol version this frontend injects and expects. */
export const PROTOCOL_VERSION = 1;

/** The comm target the injected code registers. */
export const COMM_TARGET = 'deardiary';

/** A string that was not valid UTF-8 in the kernel (a path can be) travels as bytes. */
export type PathValue = string | { b64: string };

/**
 * A file read by the kernel. `base64` is present in a capture, absent in a fingerprint.
 * `env_project`/`env_manifest`: the files of a stacked environment (index `env` in
 * `ICapture.environments`) some loaded package came from; they never replace the
 * active project's files.
 */
export interface ICapturedFile {
  role:
    | 'project'
    | 'manifest'
    | 'env_project'
    | 'env_manifest'
    | 'workspace_project';
  /** For workspace_project: the path relative to the workspace root's folder. */
  name: string;
  path: PathValue;
  size: number;
  sha256: string;
  base64?: string;
  /** For env_project/env_manifest: the index of the environment in `environments`. */
  env?: number;
}

/** A package the kernel had loaded (`Base.loaded_modules`). */
export interface ILoadedPackage {
  name: string;
  uuid: string | null;
  /** As the package says (`pkgversion`, its Project.toml); null when unknown. */
  version: string | null;
  /** Index in `environments` (the expanded LOAD_PATH) Julia finds it in first; null: none. */
  env: number | null;
  stdlib: boolean;
}

/** One entry of the expanded LOAD_PATH, as the kernel saw it. */
export interface ILoadPathEnvironment {
  /** The LOAD_PATH entry (a project file or a folder of packages). */
  path: PathValue;
  project: PathValue | null;
  manifest: PathValue | null;
  /** It is the active project. */
  active: boolean;
  /** It is the global `environments/vX.Y` environment. */
  is_global: boolean;
  /** It is Julia's own standard library folder. */
  stdlib: boolean;
  /** Its project/manifest files are in `files` (env_project, env_manifest). */
  carried: boolean;
  /** Why its files were not carried (too large, unreadable). */
  error?: IKernelError;
}

/** Where a manifest was found. */
export type ManifestSource =
  'julia' | 'manifest_key' | 'versioned' | 'default' | 'workspace';

/** What the kernel is made of (capture) or its cheap form (fingerprint). */
export interface ICapture {
  julia_version: string;
  project: { path: PathValue; exists: boolean; is_global: boolean } | null;
  manifest: {
    path: PathValue;
    exists: boolean;
    found_by: ManifestSource;
  } | null;
  workspace_root: PathValue | null;
  files: ICapturedFile[];
  sys: ISystemInfo;
  /** What the kernel had loaded; absent from kernels of older versions of this code. */
  loaded?: ILoadedPackage[];
  /** The expanded LOAD_PATH with what `loaded[].env` points at; absent likewise. */
  environments?: ILoadPathEnvironment[];
  /** The kernel could not list its loaded packages (the rest of the capture is fine). */
  loaded_error?: string;
}

/** System facts of the kernel's Julia. */
export interface ISystemInfo {
  kernel: string;
  arch: string;
  machine: string;
  cpu_threads: number;
  nthreads: number;
  bindir: PathValue;
  depot_path: PathValue[];
  load_path: PathValue[];
  pwd: PathValue;
}

/**
 * The requests the frontend sends over the comm (`{id, op, args}`) and what each one's
 * reply holds once validated: one map, as the debugger types its protocol. The kernel
 * side answers them in `handle` (julia/deardiary.jl); PROTOCOL.md describes them.
 */
export interface IOperations {
  ping: { args: Record<string, never>; result: void };
  /** true for the first claimant of `key` in this kernel process only. */
  claim: { args: { key: string }; result: boolean };
  /** With the files' bytes, verified. */
  capture: { args: { max_bytes?: number }; result: ICapture };
  /** The same paths and hashes as capture, without bytes. */
  fingerprint: { args: Record<string, never>; result: ICapture };
}

export type Operation = keyof IOperations;

/** Validate the result of a reply to `op` (throws ProtocolError). */
export const READ_RESULT: {
  [K in Operation]: (
    raw: Record<string, unknown>
  ) => IOperations[K]['result'] | Promise<IOperations[K]['result']>;
} = {
  ping: () => undefined,
  claim: raw => bool(raw.claimed, 'claim.claimed'),
  capture: raw => validateCapture(raw, true),
  fingerprint: raw => validateCapture(raw, false)
};

/** A structured error answered by the kernel side. */
export interface IKernelError {
  code: string;
  message: string;
}

/** Messages from the kernel, once decoded. */
export type KernelMessage =
  | { type: 'ready'; protocol: number; julia_version: string }
  | {
      type: 'reply';
      id: string | null;
      ok: true;
      result: Record<string, unknown>;
    }
  | { type: 'reply'; id: string | null; ok: false; error: IKernelError }
  | { type: 'snapshot'; snapshot_id: string; note: string; capture: unknown };

/** A message that breaks the protocol. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(`Malformed message from the kernel: ${message}`);
    this.name = 'ProtocolError';
  }
}

/** Decode the comm data of one kernel message (`{protocol, json}`) and check its shape. */
export function decodeMessage(data: unknown): KernelMessage {
  const frame = asObject(data, 'comm data');
  if (frame.protocol !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      `protocol ${String(frame.protocol)}, this frontend speaks ${PROTOCOL_VERSION}`
    );
  }
  let msg: Record<string, unknown>;
  try {
    msg = asObject(JSON.parse(str(frame.json, 'json')), 'message');
  } catch (error) {
    if (error instanceof ProtocolError) {
      throw error;
    }
    throw new ProtocolError(`invalid JSON (${(error as Error).message})`);
  }
  switch (msg.type) {
    case 'ready':
      return {
        type: 'ready',
        protocol: int(msg.protocol, 'ready.protocol'),
        julia_version: str(msg.julia_version, 'ready.julia_version')
      };
    case 'reply': {
      const id = msg.id === null ? null : str(msg.id, 'reply.id');
      if (msg.ok === true) {
        return {
          type: 'reply',
          id,
          ok: true,
          result: asObject(msg.result, 'reply.result')
        };
      }
      if (msg.ok === false) {
        const error = asObject(msg.error, 'reply.error');
        return {
          type: 'reply',
          id,
          ok: false,
          error: {
            code: str(error.code, 'error.code'),
            message: str(error.message, 'error.message')
          }
        };
      }
      throw new ProtocolError('reply.ok is not a boolean');
    }
    case 'snapshot':
      return {
        type: 'snapshot',
        snapshot_id: str(msg.snapshot_id, 'snapshot.snapshot_id'),
        note: str(msg.note, 'snapshot.note'),
        capture: asObject(msg.capture, 'snapshot.capture')
      };
    default:
      throw new ProtocolError(
        `unknown message type ${JSON.stringify(msg.type)}`
      );
  }
}

/**
 * Check a capture (`withBytes`) or fingerprint result field by field; for a capture,
 * decode every file and verify its size and sha256 against what the kernel declared.
 */
export async function validateCapture(
  value: unknown,
  withBytes: boolean
): Promise<ICapture> {
  const c = asObject(value, 'capture');
  const project =
    c.project === null
      ? null
      : (() => {
          const p = asObject(c.project, 'project');
          return {
            path: pathValue(p.path, 'project.path'),
            exists: bool(p.exists, 'project.exists'),
            is_global: bool(p.is_global, 'project.is_global')
          };
        })();
  const manifest =
    c.manifest === null
      ? null
      : (() => {
          const m = asObject(c.manifest, 'manifest');
          return {
            path: pathValue(m.path, 'manifest.path'),
            exists: bool(m.exists, 'manifest.exists'),
            found_by: oneOf(
              m.found_by,
              [
                'julia',
                'manifest_key',
                'versioned',
                'default',
                'workspace'
              ] as const,
              'manifest.found_by'
            )
          };
        })();
  const files: ICapturedFile[] = [];
  for (const [i, raw] of array(c.files, 'files').entries()) {
    const f = asObject(raw, `files[${i}]`);
    const file: ICapturedFile = {
      role: oneOf(
        f.role,
        [
          'project',
          'manifest',
          'env_project',
          'env_manifest',
          'workspace_project'
        ] as const,
        `files[${i}].role`
      ),
      name: str(f.name, `files[${i}].name`),
      path: pathValue(f.path, `files[${i}].path`),
      size: int(f.size, `files[${i}].size`),
      sha256: sha256Hex(f.sha256, `files[${i}].sha256`)
    };
    if (file.role === 'env_project' || file.role === 'env_manifest') {
      file.env = int(f.env, `files[${i}].env`);
    }
    if (withBytes) {
      file.base64 = str(f.base64, `files[${i}].base64`);
      await verifyBytes(file);
    }
    files.push(file);
  }
  const s = asObject(c.sys, 'sys');
  const loaded = validateLoaded(c);
  return {
    ...loaded,
    julia_version: str(c.julia_version, 'julia_version'),
    project,
    manifest,
    workspace_root:
      c.workspace_root === null
        ? null
        : pathValue(c.workspace_root, 'workspace_root'),
    files,
    sys: {
      kernel: str(s.kernel, 'sys.kernel'),
      arch: str(s.arch, 'sys.arch'),
      machine: str(s.machine, 'sys.machine'),
      cpu_threads: int(s.cpu_threads, 'sys.cpu_threads'),
      nthreads: int(s.nthreads, 'sys.nthreads'),
      bindir: pathValue(s.bindir, 'sys.bindir'),
      depot_path: array(s.depot_path, 'sys.depot_path').map(p =>
        pathValue(p, 'sys.depot_path[]')
      ),
      load_path: array(s.load_path, 'sys.load_path').map(p =>
        pathValue(p, 'sys.load_path[]')
      ),
      pwd: pathValue(s.pwd, 'sys.pwd')
    }
  };
}

/** `loaded`, `environments`, `loaded_error` of a capture (each absent when absent). */
function validateLoaded(
  c: Record<string, unknown>
): Pick<ICapture, 'loaded' | 'environments' | 'loaded_error'> {
  const out: Pick<ICapture, 'loaded' | 'environments' | 'loaded_error'> = {};
  if (c.environments !== undefined) {
    out.environments = array(c.environments, 'environments').map((raw, i) => {
      const e = asObject(raw, `environments[${i}]`);
      const env: ILoadPathEnvironment = {
        path: pathValue(e.path, `environments[${i}].path`),
        project:
          e.project === null
            ? null
            : pathValue(e.project, `environments[${i}].project`),
        manifest:
          e.manifest === null
            ? null
            : pathValue(e.manifest, `environments[${i}].manifest`),
        active: bool(e.active, `environments[${i}].active`),
        is_global: bool(e.is_global, `environments[${i}].is_global`),
        stdlib: bool(e.stdlib, `environments[${i}].stdlib`),
        carried: bool(e.carried, `environments[${i}].carried`)
      };
      if (e.error !== undefined) {
        const err = asObject(e.error, `environments[${i}].error`);
        env.error = {
          code: str(err.code, `environments[${i}].error.code`),
          message: str(err.message, `environments[${i}].error.message`)
        };
      }
      return env;
    });
  }
  const envCount = out.environments?.length ?? 0;
  if (c.loaded !== undefined) {
    out.loaded = array(c.loaded, 'loaded').map((raw, i) => {
      const p = asObject(raw, `loaded[${i}]`);
      const env = p.env === null ? null : int(p.env, `loaded[${i}].env`);
      if (env !== null && (env < 0 || env >= envCount)) {
        throw new ProtocolError(
          `loaded[${i}].env is not an index of environments`
        );
      }
      return {
        name: str(p.name, `loaded[${i}].name`),
        uuid: p.uuid === null ? null : str(p.uuid, `loaded[${i}].uuid`),
        version:
          p.version === null ? null : str(p.version, `loaded[${i}].version`),
        env,
        stdlib: bool(p.stdlib, `loaded[${i}].stdlib`)
      };
    });
  }
  if (c.loaded_error !== undefined) {
    out.loaded_error = str(c.loaded_error, 'loaded_error');
  }
  return out;
}

/** A path for display: invalid UTF-8 is shown with replacement characters. */
export function pathToString(path: PathValue): string {
  return typeof path === 'string'
    ? path
    : new TextDecoder().decode(fromBase64(path.b64));
}

async function verifyBytes(file: ICapturedFile): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(file.base64 ?? '');
  } catch {
    throw new ProtocolError(`${file.name}: base64 does not decode`);
  }
  if (bytes.length !== file.size) {
    throw new ProtocolError(
      `${file.name}: ${bytes.length} bytes arrived, the kernel declared ${file.size}`
    );
  }
  const actual = await sha256(bytes);
  if (actual !== file.sha256) {
    throw new ProtocolError(
      `${file.name}: the bytes hash to ${actual}, the kernel declared ${file.sha256}`
    );
  }
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new ProtocolError(`${what} is not a list`);
  }
  return value;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') {
    throw new ProtocolError(`${what} is not a string`);
  }
  return value;
}

function bool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') {
    throw new ProtocolError(`${what} is not a boolean`);
  }
  return value;
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new ProtocolError(`${what} is not an integer`);
  }
  return value;
}

function sha256Hex(value: unknown, what: string): string {
  const hex = str(value, what);
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new ProtocolError(`${what} is not a sha256 in hex`);
  }
  return hex;
}

function pathValue(value: unknown, what: string): PathValue {
  if (typeof value === 'string') {
    return value;
  }
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as any).b64 === 'string'
  ) {
    return { b64: (value as { b64: string }).b64 };
  }
  throw new ProtocolError(`${what} is not a path (a string or {b64})`);
}

function oneOf<T extends string>(
  value: unknown,
  options: readonly T[],
  what: string
): T {
  if (
    typeof value !== 'string' ||
    !(options as readonly string[]).includes(value)
  ) {
    throw new ProtocolError(`${what} is not one of ${options.join(', ')}`);
  }
  return value as T;
}
