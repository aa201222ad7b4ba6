/**
 * The URL of sql.js's wasm inside the labextension. Imported dynamically by `loadSqlJs()`
 * only, so the asset is neither in the start-up bundle nor fetched before first use.
 */
import wasmUrl from 'sql.js/dist/sql-wasm.wasm';

export default wasmUrl;
