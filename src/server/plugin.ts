import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { CommandIDs, IDearDiaryServer } from '../tokens';
import { VERSION } from '../version';
import { DearDiaryAPI } from './api';
import { DearDiaryServer } from './status';

/** The server half: checks the server extension at start and offers its status. */
export const serverPlugin: JupyterFrontEndPlugin<IDearDiaryServer> = {
  id: 'jupyterlab-deardiary:server',
  description: 'Connects to the jupyterlab_deardiary server extension.',
  autoStart: true,
  provides: IDearDiaryServer,
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): IDearDiaryServer => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_deardiary');
    const server = new DearDiaryServer(
      new DearDiaryAPI(app.serviceManager.serverSettings)
    );

    app.commands.addCommand(CommandIDs.serverStatus, {
      label: trans.__('DearDiary: Server Extension Status'),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        const status = await server.check();
        const body =
          status.state === 'ok'
            ? trans.__(
                'jupyterlab_deardiary server extension %1 is running (frontend %2).',
                status.info.version,
                VERSION
              )
            : status.state === 'checking'
              ? trans.__('Checking…')
              : status.message;
        await showDialog({
          title: trans.__('DearDiary'),
          body,
          buttons: [Dialog.okButton()]
        });
        return status;
      }
    });
    palette?.addItem({
      command: CommandIDs.serverStatus,
      category: 'DearDiary'
    });

    void server.check().then(status => {
      if (status.state === 'missing' || status.state === 'mismatch') {
        Notification.error(status.message, { autoClose: false });
      }
    });
    return server;
  }
};
