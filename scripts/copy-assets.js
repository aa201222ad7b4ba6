// tsc copies only .ts output: copy the Julia sources next to the compiled modules.
const fs = require('fs');
const path = require('path');

function copy(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const from = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== '__tests__') {
        copy(from);
      }
    } else if (entry.name.endsWith('.jl')) {
      const to = path.join('lib', path.relative('src', from));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
    }
  }
}
copy('src');
