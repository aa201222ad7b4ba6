/**
 * The Julia code the restore runs in a kernel, and how it is run: one silent execute
 * request (no execution count, no history), its stdout and stderr streamed to a callback.
 * Pkg is reached by its PkgId, so it loads whatever project is active.
 */
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { juliaStringLiteral } from './snippet';

const PKG =
  'Base.PkgId(Base.UUID("44cfe95a-1eb2-52ea-b672-e2afdf69b78f"), "Pkg")';

/** Install the active project's manifest as it is: never resolve, never update. */
export const INSTANTIATE_CODE = `Base.invokelatest(Base.require(${PKG}).instantiate)`;

/** Make the project in `folder` the active one. */
export function activateCode(folder: string): string {
  return `Base.invokelatest(Base.require(${PKG}).activate, ${juliaStringLiteral(folder)})`;
}

/** Run `code` silently; `onStream` gets stdout and stderr as they arrive. */
export async function execute(
  kernel: Kernel.IKernelConnection,
  code: string,
  onStream?: (text: string) => void
): Promise<KernelMessage.IExecuteReplyMsg['content']> {
  const future = kernel.requestExecute({
    code,
    silent: true,
    store_history: false,
    allow_stdin: false,
    stop_on_error: false
  });
  future.onIOPub = msg => {
    if (onStream && KernelMessage.isStreamMsg(msg)) {
      onStream(msg.content.text);
    }
  };
  return (await future.done).content;
}
