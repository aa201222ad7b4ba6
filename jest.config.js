const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyterlab/',
  '@lumino/',
  'lib0',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

// Reporter options belong to the top level, not to a project.
const { coverageReporters, reporters, coverageDirectory, testTimeout, ...base } = jestJupyterLab(__dirname);
const shared = {
  moduleFileExtensions: [...base.moduleFileExtensions, 'jl'],
  modulePathIgnorePatterns: ['<rootDir>/jupyterlab_deardiary/', '<rootDir>/ui-tests/'],
  testPathIgnorePatterns: ['/lib/', '/node_modules/'],
  transform: {
    ...base.transform,
    '^.+\\.tsx?$': ['ts-jest/legacy', { tsconfig: './tsconfig.test.json' }],
    '\\.jl$': '<rootDir>/src/__tests__/helpers/text-transform.js'
  },
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};

module.exports = {
  reporters: ['default'],
  testTimeout: 120000,
  projects: [
    {
      // Logic and the bridge against a mocked kernel, in JupyterLab's jsdom environment.
      ...base,
      ...shared,
      displayName: 'unit',
      moduleNameMapper: {
        ...base.moduleNameMapper,
        '\\.wasm$': '<rootDir>/src/__tests__/helpers/file-stub.js'
      },
      testRegex: 'src/__tests__/.*\\.spec\\.ts$'
    },
    {
      // Against a real jupyter_server (and the test Julia kernel), from plain Node + ws.
      ...shared,
      displayName: 'server',
      testEnvironment: 'node',
      testRegex: 'src/__tests__/.*\\.server\\.ts$'
    }
  ]
};
