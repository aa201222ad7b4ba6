// Benchmarks run through jest (TypeScript, the same imports as the tests), one at a time.
const path = require('path');
const root = path.resolve(__dirname, '..');
const base = require(path.join(root, 'jest.config.js')).projects.find(
  p => p.displayName === 'server'
);

module.exports = {
  ...base,
  rootDir: root,
  displayName: 'bench',
  testRegex: 'bench/.*\\.bench\\.ts$',
  testTimeout: 600000,
  reporters: ['summary']
};
