import { kernelPlugin } from './kernel/plugin';
import { serverPlugin } from './server/plugin';

export * from './tokens';

export default [serverPlugin, kernelPlugin];
