// Jest transform: a text asset (the injected Julia code) becomes a module exporting it.
module.exports = {
  process(source) {
    return { code: `module.exports = ${JSON.stringify(source)};` };
  }
};
