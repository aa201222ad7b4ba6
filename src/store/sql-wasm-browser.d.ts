// sql.js's browser build has the same API as its Node default (typed by @types/sql.js).
declare module 'sql.js/dist/sql-wasm-browser.js' {
  import initSqlJs = require('sql.js');
  export = initSqlJs;
}
