import { Signal } from '@lumino/signaling';
import { IDearDiaryServer, ServerStatus } from '../tokens';
import { DearDiaryAPI } from './api';
import { INSTALL_HINT, ServerError } from './request';
import { API_VERSION, VERSION } from '../version';

/** Checks the server extension once at start and on demand. */
export class DearDiaryServer implements IDearDiaryServer {
  constructor(readonly api: DearDiaryAPI = new DearDiaryAPI()) {}

  get status(): ServerStatus {
    return this._status;
  }

  get statusChanged(): Signal<this, ServerStatus> {
    return this._statusChanged;
  }

  async check(): Promise<ServerStatus> {
    let status: ServerStatus;
    try {
      const info = await this.api.version();
      if (info.api !== API_VERSION) {
        status = {
          state: 'mismatch',
          info,
          message:
            `The jupyterlab_deardiary server extension ${info.version} speaks API ` +
            `${info.api}, this frontend ${VERSION} needs API ${API_VERSION}: install the ` +
            'same version of both (`pip install --upgrade jupyterlab_deardiary`) and restart Jupyter.'
        };
      } else {
        status = { state: 'ok', info };
      }
    } catch (error) {
      const message =
        error instanceof ServerError && error.code === 'not_installed'
          ? INSTALL_HINT
          : `The jupyterlab_deardiary server extension did not answer: ${(error as Error).message}`;
      status = { state: 'missing', message };
    }
    this._status = status;
    this._statusChanged.emit(status);
    return status;
  }

  private _status: ServerStatus = { state: 'checking' };
  private _statusChanged = new Signal<this, ServerStatus>(this);
}
