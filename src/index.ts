import { kernelPlugin } from './kernel/plugin';
import { recorderPlugin } from './recorder/plugin';
import { restorePlugin } from './restore/plugin';
import { serverPlugin } from './server/plugin';
import { sharePlugin } from './share/plugin';
import { mlflowPlugin } from './share/mlflow-plugin';
import { storePlugin } from './store/plugin';
import { historyPlugin } from './widgets/plugin';
import { notebookRunPlugin } from './widgets/notebook-run';

export * from './tokens';

export default [
  serverPlugin,
  kernelPlugin,
  storePlugin,
  recorderPlugin,
  historyPlugin,
  restorePlugin,
  notebookRunPlugin,
  sharePlugin,
  mlflowPlugin
];
