import { NotebookPanel } from '@jupyterlab/notebook';
import { IKernelBridges } from '../tokens';
import { KernelBridge } from './bridge';

/** One KernelBridge per notebook panel, created on first use, disposed with the panel. */
export class KernelBridges implements IKernelBridges {
  get(panel: NotebookPanel): KernelBridge {
    let bridge = this._bridges.get(panel);
    if (!bridge) {
      bridge = new KernelBridge({ sessionContext: panel.sessionContext });
      this._bridges.set(panel, bridge);
      panel.disposed.connect(() => {
        this._bridges.get(panel)?.dispose();
        this._bridges.delete(panel);
      });
    }
    return bridge;
  }

  private _bridges = new Map<NotebookPanel, KernelBridge>();
}
