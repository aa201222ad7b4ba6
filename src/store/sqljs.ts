import type { SqlJsConfig, SqlJsStatic } from 'sql.js';

/** sql.js's init function (the browser build's default export, or the Node build's). */
export type InitSqlJs = (config?: SqlJsConfig) => Promise<SqlJsStatic>;

/**
 * How to load sql.js instead of the default (tests and benchmarks): `init` replaces the
 * browser build (for example the Node build, which reads its own wasm), `wasmBinary`
 * replaces fetching the wasm asset.
 */
export interface ISqlJsLoader {
  init?: InitSqlJs;
  wasmBinary?: ArrayBuffer;
}

let loaded: Promise<SqlJsStatic> | null = null;
const injected = new WeakMap<ISqlJsLoader, Promise<SqlJsStatic>>();

/**
 * Load sql.js once. The default loads the browser build and its wasm (shipped inside the
 * labextension) through dynamic imports: nothing of sql.js is fetched before the first
 * call. A failed load is forgotten so that a later call tries again.
 */
export function loadSqlJs(loader?: ISqlJsLoader): Promise<SqlJsStatic> {
  const cached = loader ? injected.get(loader) : loaded;
  if (cached) {
    return cached;
  }
  const promise = load(loader ?? {});
  const forget = () => {
    if (loader) {
      injected.delete(loader);
    } else {
      loaded = null;
    }
  };
  promise.catch(forget);
  if (loader) {
    injected.set(loader, promise);
  } else {
    loaded = promise;
  }
  return promise;
}

async function load(loader: ISqlJsLoader): Promise<SqlJsStatic> {
  const init =
    loader.init ?? (await import('sql.js/dist/sql-wasm-browser.js')).default;
  if (loader.wasmBinary) {
    return init({ wasmBinary: loader.wasmBinary });
  }
  if (loader.init) {
    return init(); // an injected build finds its wasm itself (the Node build reads it)
  }
  const wasmUrl = (await import('./wasm')).default;
  return init({ locateFile: () => wasmUrl });
}
