// Extra rules merged into @jupyter/builder's Rspack config (package.json "webpackConfig").
module.exports = {
  module: {
    rules: [
      // sql.js's wasm ships inside the labextension and is fetched on first use only.
      { test: /\.wasm$/, type: 'asset/resource' },
      // The Julia code injected into kernels is bundled as text.
      { test: /\.jl$/, type: 'asset/source' }
    ]
  }
};
