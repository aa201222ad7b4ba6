/**
 * Carrying stacked environments along with a restore: the Project/Manifest files of an
 * environment that loaded packages came from (manifest/loaded.ts) are written, byte-exact,
 * into `<target>/environments/<name>/` with a second POST /deardiary/restore (the
 * endpoint writes plain names into one folder; a sub-folder is just another target).
 */
import { environmentTarget, IOutsideEnvironment } from '../manifest/loaded';
import { IRestoreRequest } from '../server/api';
import { toBase64 } from '../bytes';

/**
 * The restore request that writes a carried environment's files (by their recorded
 * names) into `environmentTarget(target, env)`; null when none were carried.
 */
export async function environmentRequest(
  env: IOutsideEnvironment,
  target: string,
  blob: (sha256: string) => Promise<Uint8Array | null>
): Promise<IRestoreRequest | null> {
  if (!env.files.length) {
    return null;
  }
  const files = [];
  for (const file of env.files) {
    const bytes = await blob(file.sha256);
    if (!bytes) {
      throw new Error(`${file.name}: its bytes are not in the store`);
    }
    files.push({
      name: file.name,
      sha256: file.sha256,
      base64: toBase64(bytes)
    });
  }
  return { target: environmentTarget(target, env), files };
}

/** The outside environments a restore can carry along (their files were recorded). */
export function carriable(envs: IOutsideEnvironment[]): IOutsideEnvironment[] {
  return envs.filter(e => e.files.length > 0);
}
