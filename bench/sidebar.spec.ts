/**
 * Benchmark: the history sidebar with 10,000 runs over 300 environments, in Debian
 * Chromium against the test JupyterLab (ui-tests' server), with the PRODUCTION build of
 * the labextension (`jlpm build:prod` first).
 *
 * Before the page loads, a store is written into the server root (DEARDIARY_UI_ROOT,
 * required: a throw-away folder) with the real schema and insertRuns (bench/seed-store.ts):
 * 10,000 runs, 300 distinct environments (~400-package generated manifests), 50
 * notebooks, notes on 1 run in 6. Then:
 *   1. cold first paint: `deardiary:open-history` → the first `.jp-DearDiary-run` row in
 *      the DOM (the run list prefetched from GET /deardiary/runs when JupyterLab became
 *      idle and revalidated with If-None-Match, or, from a server without it,
 *      downloading the store, loading sql.js and its wasm, opening the store, listing
 *      the runs), split into its steps; then the store's load in the background;
 *   2. warm first paint: the sidebar closed and shown again (the store is open);
 *   3. filter keystrokes (median of 20): a free-word query, then `Package12@1`-style
 *      package queries (the first package query parses every manifest once: reported
 *      on its own), from the key press to the list's DOM being updated;
 * and the cost of each step on its own (component profile). Targets (expect.soft, so
 * that every figure is printed): first paint ≤ 150 ms, keystroke ≤ 50 ms.
 *
 * The steps are timed by wrapping methods of the extension's objects in the page
 * (HistoryShell._deps.store, LazyRunStore._server.api (readStore, listRuns,
 * listRunsIfChanged), ._store and
 * ._pending, RunStore._sql, _load, listRuns, getText, HistoryPanel.refresh,
 * _applyFilter, _loadManifests, list.setRuns): private names, kept by TypeScript and
 * webpack; the benchmark says so if they change.
 *
 * Run: cd ui-tests && DEARDIARY_UI_ROOT=$(mktemp -d) \
 *        jlpm playwright test -c ../bench/playwright.config.js sidebar
 * DEARDIARY_BENCH_PACKAGES=100 uses smaller manifests.
 */
import * as fs from 'fs';
import * as path from 'path';
// From ui-tests' node_modules: the same @playwright/test as the runner's.
import { expect, test } from '../ui-tests/node_modules/@jupyterlab/galata';
import type { Page } from '../ui-tests/node_modules/@playwright/test';
import { ISeeded, seedStore } from './seed-store';
import { percentile, report } from './stats';

const FIRST_PAINT_MS = 150;
const KEYSTROKE_MS = 50;
const KEYSTROKES = 20;
const WARM_REPEATS = 7;
const STATIC = '/lab/extensions/jupyterlab-deardiary/static/';
const FILTER = 'input[aria-label="Filter runs"]';
/** A package of every generated manifest; `Package12@1` matches 1 environment in 4. */
const PACKAGE = 'Package12';

const ROOT = process.env.DEARDIARY_UI_ROOT;
const STORE = ROOT ? path.join(ROOT, '.deardiary', 'deardiary.sqlite') : '';
/** Beside a store this benchmark wrote: it may be replaced. */
const MARKER = ROOT ? path.join(ROOT, '.deardiary', 'seeded-by-bench') : '';

let seeded: ISeeded;

test.use({ autoGoto: false });

test.beforeAll(async () => {
  test.setTimeout(15 * 60000);
  if (!ROOT) {
    throw new Error(
      'Set DEARDIARY_UI_ROOT to a throw-away folder: the benchmark writes its store there.'
    );
  }
  if (fs.existsSync(STORE) && !fs.existsSync(MARKER)) {
    throw new Error(
      `${STORE} exists and was not written by this benchmark: use an empty DEARDIARY_UI_ROOT.`
    );
  }
  seeded = await seedStore(STORE, {
    runs: 10000,
    environments: 300,
    notebooks: 50,
    packages: Number(process.env.DEARDIARY_BENCH_PACKAGES ?? 400)
  });
  fs.writeFileSync(MARKER, '');
});

/** One timed event in the page: [name, performance.now()]. */
type Events = Array<[string, number]>;

interface IKeystroke {
  key: string;
  /** Key press → list DOM updated / → the next animation frame, ms. */
  dom: number;
  frame: number;
  /** HistoryPanel.lastFilterMs after it. */
  filterMs: number;
  value: string;
  status: string;
}

interface IStep {
  name: string;
  start: number;
  end: number;
}

interface IResource {
  file: string;
  start: number;
  ttfb: number;
  body: number;
  total: number;
  bytes: number;
}

test('sidebar: 10,000 runs over 300 environments', async ({ page }) => {
  test.setTimeout(15 * 60000);
  const staticFiles: string[] = [];
  page.on('request', request => {
    const url = new URL(request.url());
    if (url.pathname.includes(STATIC)) {
      staticFiles.push(
        url.pathname.slice(url.pathname.indexOf(STATIC) + STATIC.length)
      );
    }
  });
  await page.goto();
  await page.evaluate(async () => {
    await window.jupyterapp.started;
    await window.jupyterapp.restored;
  });
  await page.waitForLoadState('networkidle');
  await install(page);

  // 1. Cold first paint.
  const cold = await page.evaluate(async () => {
    const b = (window as any).__ddBench;
    performance.clearResourceTimings();
    performance.setResourceTimingBufferSize(5000);
    const rows = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        observer.disconnect();
        reject(new Error('no run row within 120 s'));
      }, 120000);
      const observer = new MutationObserver(() => {
        if (document.querySelector('.jp-DearDiary-run')) {
          b.ev('rowsInDom');
          observer.disconnect();
          clearTimeout(timer);
          requestAnimationFrame(() => {
            b.ev('frame');
            resolve();
          });
        }
      });
      observer.observe(document.body, { childList: true, subtree: true });
    });
    const t0 = performance.now();
    b.ev('execute');
    await window.jupyterapp.commands.execute('deardiary:open-history');
    b.ev('executed');
    await rows;
    return { t0 };
  });
  // Let the rest of the cold open (the store loading in the background, drift, a
  // second listing) finish.
  await page.evaluate(async () => {
    const b = (window as any).__ddBench;
    const store = await b.shell._deps.store._pending;
    await store?.open();
    b.ev('storeOpen');
  });
  await settle(page);
  const coldEvents: Events = await page.evaluate(() =>
    (window as any).__ddBench.take()
  );
  const resources: IResource[] = await page.evaluate(
    ({ t0, STATIC }) =>
      performance
        .getEntriesByType('resource')
        .map(e => e as PerformanceResourceTiming)
        .filter(
          e =>
            e.name.includes('/deardiary/store') ||
            e.name.includes('/deardiary/runs') ||
            e.name.includes(STATIC)
        )
        .map(e => ({
          file: e.name.includes(STATIC)
            ? e.name.slice(e.name.indexOf(STATIC) + STATIC.length)
            : new URL(e.name).pathname,
          start: e.startTime - t0,
          ttfb: e.responseStart - e.startTime,
          body: e.responseEnd - e.responseStart,
          total: e.duration,
          bytes: e.decodedBodySize
        })),
    { t0: cold.t0, STATIC }
  );
  const at = (name: string) => time(coldEvents, name) - cold.t0;
  const steps = stepsOf(coldEvents, cold.t0);
  const coldRows = at('rowsInDom');
  const coldFrame = at('frame');

  // 2. Warm first paint: close the sidebar, show it again.
  const warm: Array<{ shown: number; rows: number; frame: number }> = [];
  for (let i = 0; i < WARM_REPEATS; i++) {
    warm.push(await reopen(page));
  }
  const warmSteps = stepsOf(
    await page.evaluate(() => (window as any).__ddBench.take()),
    0
  );

  // 3. Filter keystrokes. Free words first.
  const filter = page.locator(FILTER);
  await filter.focus();
  const free: IKeystroke[] = [];
  for (const word of ['tuned', 'paper']) {
    for (const key of word) {
      free.push(await keystroke(page, key));
    }
    for (let i = 0; i < word.length; i++) {
      free.push(await keystroke(page, 'Backspace'));
    }
  }
  // The first package query: every manifest is parsed once.
  await setFilter(page, PACKAGE);
  await page.evaluate(() => (window as any).__ddBench.take());
  const firstPackage = await keystroke(page, '@');
  const firstPackageEvents: Events = await page.evaluate(() =>
    (window as any).__ddBench.take()
  );
  const getText = firstPackageEvents.filter(([n]) => n.startsWith('getText'));
  const loadManifests = stepsOf(firstPackageEvents, 0).find(
    s => s.name === 'loadManifests#1'
  );
  const getTextMs = sum(
    stepsOf(getText, 0)
      .filter(s => s.name.startsWith('getText'))
      .map(s => s.end - s.start)
  );
  // Package queries: `Package12@1`, back to `Package12@`, `Package12@2`, …
  const pkg: IKeystroke[] = [];
  const digits = ['1', '2', '3', '0', '1.'];
  for (let i = 0; pkg.length < KEYSTROKES; i++) {
    const d = digits[i % digits.length];
    for (const key of d) {
      pkg.push(await keystroke(page, key));
    }
    for (let k = 0; k < d.length; k++) {
      pkg.push(await keystroke(page, 'Backspace'));
    }
  }
  // A package filter stays active when the sidebar is shown again: the manifests are
  // parsed again (refresh() forgets them).
  await setFilter(page, `${PACKAGE}@1`);
  const warmWithPackage = await reopen(page);
  await setFilter(page, '');

  // Component profile: each step alone, median of 5.
  const profile = await page.evaluate(async SUMMARY => {
    const b = (window as any).__ddBench;
    const store = b.runStore;
    const panel = b.panel;
    const api = b.api;
    const Database = store._db.constructor;
    const runs: Record<string, number[]> = {};
    const timed = async <T>(name: string, fn: () => T | Promise<T>) => {
      const t = performance.now();
      const result = await fn();
      (runs[name] ??= []).push(performance.now() - t);
      return result;
    };
    for (let i = 0; i < 5; i++) {
      await timed('GET /deardiary/runs (api.listRuns, answer ready)', () =>
        api.listRuns()
      );
      const snapshot = await timed(
        'GET /deardiary/store (readStore, warm)',
        () => api.readStore()
      );
      await timed('copy of the bytes (baseline: bytes.slice())', () =>
        snapshot.bytes.slice()
      );
      const db = await timed(
        'new SQL.Database(bytes)',
        () => new Database(snapshot.bytes)
      );
      await timed('PRAGMA quick_check', () => db.exec('PRAGMA quick_check'));
      await timed('other checks of openStore', () => {
        db.exec('PRAGMA application_id');
        db.exec("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
        db.exec('PRAGMA user_version');
        db.exec('PRAGMA foreign_keys = ON');
      });
      db.close();
      await timed('listRuns (query, rows to summaries, sort)', () =>
        store.listRuns()
      );
      // listRuns' query (read from src/store/store.ts) on the open store.
      const live = store._db;
      await timed('  its query: step() only', () => {
        const stmt = live.prepare(SUMMARY);
        while (stmt.step()) {
          // rows visited, no value read
        }
        stmt.free();
      });
      await timed('  its query: step() + get() (values to JS)', () => {
        const stmt = live.prepare(SUMMARY);
        const rows = [];
        while (stmt.step()) {
          rows.push(stmt.get());
        }
        stmt.free();
        return rows.length;
      });
      await timed('filter pass + list.setRuns (empty filter)', () =>
        panel._applyFilter()
      );
    }
    const median = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1];
    return Object.entries(runs).map(
      ([name, v]) => [name, median(v)] as [string, number]
    );
  }, summaryQuery());

  // The run list of a version of the store the server did not read ahead (changed by
  // another program since the page loaded): hashed and read on request.
  const unread: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const later = new Date(Date.now() + i * 1000);
    fs.utimesSync(STORE, later, later);
    unread.push(
      await page.evaluate(async () => {
        const t = performance.now();
        await (window as any).__ddBench.api.listRuns();
        return performance.now() - t;
      })
    );
  }

  // The report.
  const production = staticFiles
    .filter(f => f.endsWith('.js') && !f.startsWith('remoteEntry.'))
    .every(f => /^\d+\.[0-9a-f]+\.js$/.test(f));
  const store = resources.find(r => r.file.endsWith('/deardiary/store'));
  const runList = resources.find(r => r.file.endsWith('/deardiary/runs'));
  const wasm = resources.find(r => r.file.endsWith('.wasm'));
  const ms = (v: number | undefined) =>
    v === undefined || Number.isNaN(v) ? 'n/a' : `${v.toFixed(1)} ms`;
  const stat = (v: number[]) =>
    v.length === 0
      ? 'n/a'
      : `median ${ms(percentile(v, 50))}, p95 ${ms(percentile(v, 95))}, max ${ms(Math.max(...v))}`;
  const step = (list: IStep[], name: string) => list.find(s => s.name === name);
  const span = (s: IStep | undefined) =>
    s ? `${ms(s.end - s.start)} (at ${ms(s.start)} → ${ms(s.end)})` : 'n/a';
  const listings = steps.filter(s => s.name.startsWith('runStore.listRuns'));
  const rows: Array<[string, string]> = [
    [
      'labextension build',
      production ? 'production' : 'DEVELOPMENT (run `jlpm build:prod` first)'
    ],
    [
      'store',
      `${seeded.runs} runs, ${seeded.environments} environments (${seeded.packages}-package manifests, ${kb(seeded.manifestBytes)} each), ${seeded.notebooks} notebooks, ${seeded.notes} notes`
    ],
    [
      'store file',
      `${(seeded.bytes / 1048576).toFixed(1)} MiB (seeded in ${seeded.seconds.toFixed(1)} s)`
    ],
    [
      `COLD first paint: rows in the DOM (target ≤ ${FIRST_PAINT_MS} ms)`,
      ms(coldRows)
    ],
    ['  … next animation frame', ms(coldFrame)],
    ['  command executed (sidebar shown)', ms(at('executed'))],
    ['  panel module loaded (history chunk)', ms(at('panelModule'))],
    [
      '  GET /deardiary/runs (api.listRuns: request, JSON, rows, sort)',
      span(step(steps, 'apiListRuns#1'))
    ],
    [
      '  GET /deardiary/runs, If-None-Match (the list prefetched when JupyterLab was idle)',
      span(step(steps, 'apiRevalidate#1'))
    ],
    [
      '    resource timing',
      runList
        ? `${kb(runList.bytes)}: waiting for the first byte ${ms(runList.ttfb)}, body ${ms(runList.body)}`
        : 'n/a'
    ],
    ['  store module loaded (store chunk)', ms(at('storeModule'))],
    [
      '  the store loaded (in the background after a GET /deardiary/runs paint)',
      ms(at('storeOpen'))
    ],
    ['  GET /deardiary/store (readStore)', span(step(steps, 'readStore#1'))],
    [
      '    resource timing',
      store
        ? `${kb(store.bytes)}: waiting for the first byte ${ms(store.ttfb)}, body ${ms(store.body)}`
        : 'n/a'
    ],
    [
      '  sql.js + wasm loaded (RunStore._sql, first)',
      span(step(steps, 'sqljs#1'))
    ],
    [
      '    wasm resource timing',
      wasm
        ? `${kb(wasm.bytes)} in ${ms(wasm.total)} (at ${ms(wasm.start)})`
        : 'n/a'
    ],
    ['  RunStore._load (sql.js + openStore)', span(step(steps, 'load#1'))],
    [
      '    of which openStore (new Database, quick_check, migrate)',
      ms(
        (step(steps, 'load#1')?.end ?? NaN) -
          (step(steps, 'sqljs#1')?.end ?? NaN)
      )
    ],
    [
      '  RunStore.listRuns #1 (open + query)',
      span(step(steps, 'runStore.listRuns#1'))
    ],
    [
      '    of which the query (after _load)',
      ms(
        (step(steps, 'runStore.listRuns#1')?.end ?? NaN) -
          (step(steps, 'load#1')?.end ?? NaN)
      )
    ],
    ['  filter pass + setRuns (first)', span(step(steps, 'setRuns#1'))],
    [
      '  rows built (setRuns end) → seen in the DOM (main thread busy)',
      ms(coldRows - (step(steps, 'setRuns#1')?.end ?? NaN))
    ],
    [
      '  panel.refresh calls during the cold open',
      String(steps.filter(s => s.name.startsWith('refresh#')).length)
    ],
    [
      '  listings during the cold open',
      `${listings.length} (${listings.map(s => span(s)).join('; ')})`
    ],
    [
      '  extension files fetched on open',
      resources
        .filter(r => r.file !== store?.file)
        .map(r => `${r.file} ${kb(r.bytes)} ${ms(r.total)}`)
        .join(', ') || 'none'
    ],
    [
      `WARM first paint, rows refreshed (×${WARM_REPEATS}, target ≤ ${FIRST_PAINT_MS} ms)`,
      stat(warm.map(w => w.rows))
    ],
    ['  … stale rows re-rendered on show', stat(warm.map(w => w.shown))],
    [
      '  … next animation frame after the refresh',
      stat(warm.map(w => w.frame))
    ],
    [
      '  IRunStore.listRuns (warm)',
      stat(
        warmSteps
          .filter(s => s.name.startsWith('listRuns#'))
          .map(s => s.end - s.start)
      )
    ],
    [
      '  filter pass + setRuns (warm)',
      stat(
        warmSteps
          .filter(s => s.name.startsWith('setRuns'))
          .map(s => s.end - s.start)
      )
    ],
    [
      `  … with ${PACKAGE}@1 in the filter (manifests parsed again)`,
      `rows refreshed ${ms(warmWithPackage.rows)}, frame ${ms(warmWithPackage.frame)}`
    ],
    [
      `FREE-WORD keystroke → DOM (×${free.length}, target ≤ ${KEYSTROKE_MS} ms)`,
      stat(free.map(k => k.dom))
    ],
    ['  … → next animation frame', stat(free.map(k => k.frame))],
    ['  … lastFilterMs', stat(free.map(k => k.filterMs))],
    [
      `FIRST package query ("${PACKAGE}" + "@", one-off)`,
      `${ms(firstPackage.dom)} to the DOM, ${ms(firstPackage.frame)} to the frame (${firstPackage.status})`
    ],
    [
      '  _loadManifests (getText + parseManifest of each manifest)',
      loadManifests ? ms(loadManifests.end - loadManifests.start) : 'n/a'
    ],
    ['  … of which getText', `${ms(getTextMs)} (${getText.length / 2} calls)`],
    [
      `PACKAGE keystroke → DOM (×${pkg.length}, target ≤ ${KEYSTROKE_MS} ms)`,
      stat(pkg.map(k => k.dom))
    ],
    ['  … → next animation frame', stat(pkg.map(k => k.frame))],
    ['  … lastFilterMs', stat(pkg.map(k => k.filterMs))],
    ['COMPONENTS alone (median of 5)', ''],
    ...profile.map(([name, v]) => [`  ${name}`, ms(v)] as [string, string]),
    [
      '  GET /deardiary/runs, a version not read ahead (sha256 + query)',
      stat(unread)
    ],
    ['keystrokes (key: → DOM ms, status)', ''],
    ...[...free, firstPackage, ...pkg].map(
      k =>
        [`  "${k.value}" (${k.key})`, `${ms(k.dom)}, ${k.status}`] as [
          string,
          string
        ]
    )
  ];
  report(
    'History sidebar, 10,000 runs over 300 environments (Debian Chromium)',
    rows
  );

  expect.soft(production, 'the production build is measured').toBe(true);
  expect
    .soft(coldRows, `cold first paint ≤ ${FIRST_PAINT_MS} ms`)
    .toBeLessThanOrEqual(FIRST_PAINT_MS);
  expect
    .soft(
      percentile(
        warm.map(w => w.rows),
        50
      ),
      `warm first paint ≤ ${FIRST_PAINT_MS} ms`
    )
    .toBeLessThanOrEqual(FIRST_PAINT_MS);
  expect
    .soft(
      percentile(
        free.map(k => k.dom),
        50
      ),
      `free-word keystroke ≤ ${KEYSTROKE_MS} ms`
    )
    .toBeLessThanOrEqual(KEYSTROKE_MS);
  expect
    .soft(
      percentile(
        pkg.map(k => k.dom),
        50
      ),
      `package keystroke ≤ ${KEYSTROKE_MS} ms`
    )
    .toBeLessThanOrEqual(KEYSTROKE_MS);
});

/**
 * Wrap the extension's objects in the page to time its steps (window.__ddBench: `ev`,
 * `take()` the events so far, and the objects once they exist).
 */
async function install(page: Page): Promise<void> {
  await page.evaluate(() => {
    const app = window.jupyterapp as any;
    const shell = Array.from(app.shell.widgets('left') as Iterable<any>).find(
      w => w.id === 'jp-DearDiary-history'
    );
    const lazy = shell?._deps?.store;
    const api = lazy?._server?.api;
    if (
      typeof shell?.panel !== 'function' ||
      typeof lazy?._store !== 'function' ||
      typeof api?.readStore !== 'function' ||
      typeof api?.listRuns !== 'function'
    ) {
      throw new Error(
        'Cannot instrument: HistoryShell.panel/_deps.store, LazyRunStore._store/_server.api (readStore, listRuns) changed.'
      );
    }
    if (lazy._pending || shell.isVisible) {
      throw new Error(
        'The store was opened before the benchmark (sidebar restored open?).'
      );
    }
    let events: Array<[string, number]> = [];
    const counts: Record<string, number> = {};
    const b: any = {
      shell,
      api,
      count: 0,
      ev: (name: string) => {
        b.count++;
        events.push([name, performance.now()]);
      },
      take: () => {
        const out = events;
        events = [];
        return out;
      }
    };
    (window as any).__ddBench = b;
    const once = new Set<string>();
    const first = (name: string) => {
      if (!once.has(name)) {
        once.add(name);
        b.ev(name);
      }
    };
    /** Time every call of a method of `obj` (async or not) as `name#n:start/end`. */
    const wrap = (obj: any, method: string, name: string) => {
      const orig = obj[method];
      if (typeof orig !== 'function') {
        throw new Error(`Cannot instrument: ${name} (${method}) is gone.`);
      }
      obj[method] = function (...args: unknown[]) {
        const n = (counts[name] = (counts[name] ?? 0) + 1);
        b.ev(`${name}#${n}:start`);
        const result = orig.apply(this, args);
        if (result && typeof result.then === 'function') {
          result.then(
            () => b.ev(`${name}#${n}:end`),
            () => b.ev(`${name}#${n}:end`)
          );
        } else {
          b.ev(`${name}#${n}:end`);
        }
        return result;
      };
    };
    wrap(api, 'readStore', 'readStore');
    wrap(api, 'listRuns', 'apiListRuns');
    wrap(api, 'listRunsIfChanged', 'apiRevalidate');
    wrap(lazy, 'listRuns', 'listRuns');
    const lazyStore = lazy._store;
    lazy._store = function () {
      return lazyStore.call(this).then((store: any) => {
        first('storeModule');
        if (!b.runStore) {
          b.runStore = store;
          wrap(store, '_sql', 'sqljs');
          wrap(store, '_load', 'load');
          wrap(store, 'listRuns', 'runStore.listRuns');
          wrap(store, 'getText', 'getText');
        }
        return store;
      });
    };
    const panelOf = shell.panel;
    shell.panel = function () {
      return panelOf.call(this).then((panel: any) => {
        first('panelModule');
        if (!b.panel) {
          b.panel = panel;
          wrap(panel, 'refresh', 'refresh');
          wrap(panel, '_applyFilter', 'applyFilter');
          wrap(panel, '_loadManifests', 'loadManifests');
          wrap(panel.list, 'setRuns', 'setRuns');
        }
        return panel;
      });
    };
  });
}

/** Wait until the extension has been idle (no timed event) for `quietMs`. */
async function settle(page: Page, quietMs = 500): Promise<void> {
  await page.evaluate(async quietMs => {
    const b = (window as any).__ddBench;
    for (let seen = -1; b.count !== seen;) {
      seen = b.count;
      await new Promise(resolve => setTimeout(resolve, quietMs));
    }
  }, quietMs);
}

/** Close the sidebar, show it again: times (ms from the command) of the list updates. */
async function reopen(
  page: Page
): Promise<{ shown: number; rows: number; frame: number }> {
  await page.evaluate(() => (window.jupyterapp.shell as any).collapseLeft());
  await page.waitForTimeout(300);
  const result = await page.evaluate(async () => {
    const b = (window as any).__ddBench;
    const list = document.querySelector('.jp-DearDiary-runList-window')!;
    const mutations: number[] = [];
    const observer = new MutationObserver(() =>
      mutations.push(performance.now())
    );
    observer.observe(list, { childList: true });
    const before = b.panel.list.setRuns;
    let refreshed = 0;
    const done = new Promise<number>(resolve => {
      b.panel.list.setRuns = function (...args: unknown[]) {
        const out = before.apply(this, args);
        refreshed = performance.now();
        requestAnimationFrame(() => resolve(performance.now()));
        return out;
      };
    });
    const t0 = performance.now();
    await window.jupyterapp.commands.execute('deardiary:open-history');
    const frame = await done;
    b.panel.list.setRuns = before;
    observer.disconnect();
    return {
      shown: (mutations[0] ?? NaN) - t0,
      rows: refreshed - t0,
      frame: frame - t0
    };
  });
  await settle(page);
  return result;
}

/** Set the filter's text (one input event) and wait for the list. */
async function setFilter(page: Page, value: string): Promise<void> {
  const filter = page.locator(FILTER);
  if ((await filter.inputValue()) === value) {
    return;
  }
  await arm(page);
  await filter.fill(value);
  await page.evaluate(() => (window as any).__ddBench.pending);
  await filter.focus();
  await settle(page);
}

/** Observe the next update of the list (window.__ddBench.pending). */
async function arm(page: Page): Promise<void> {
  await page.evaluate(() => {
    const b = (window as any).__ddBench;
    const filter = document.querySelector<HTMLInputElement>(
      'input[aria-label="Filter runs"]'
    )!;
    const status = document.querySelector('.jp-DearDiary-status')!;
    let key = NaN;
    let handler = NaN;
    const onKey = (event: KeyboardEvent) => {
      handler = performance.now();
      key = event.timeStamp;
    };
    window.addEventListener('keydown', onKey, { capture: true, once: true });
    b.pending = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        b.panel.filtered.disconnect(onFiltered);
        window.removeEventListener('keydown', onKey, { capture: true });
        reject(
          new Error(`the list did not change within 120 s ("${filter.value}")`)
        );
      }, 120000);
      // The pass has updated the list's DOM (only the rows that changed).
      const onFiltered = () => {
        const dom = performance.now();
        b.panel.filtered.disconnect(onFiltered);
        requestAnimationFrame(() => {
          const frame = performance.now();
          clearTimeout(timer);
          window.removeEventListener('keydown', onKey, { capture: true });
          // The event's own time stamp (the press as the browser got it) when sane.
          const start = key <= handler && key > handler - 1000 ? key : handler;
          resolve({
            dom: dom - start,
            frame: frame - start,
            filterMs: b.panel.lastFilterMs,
            value: filter.value,
            status: status.textContent ?? ''
          });
        });
      };
      b.panel.filtered.connect(onFiltered);
    });
  });
}

/** Press one key in the (focused) filter: the time until the list changed. */
async function keystroke(page: Page, key: string): Promise<IKeystroke> {
  await arm(page);
  await page.keyboard.press(key);
  const result = await page.evaluate(() => (window as any).__ddBench.pending);
  await page.waitForTimeout(50);
  return { key, ...result };
}

/** The query of RunStore.listRuns, as src/store/store.ts has it. */
function summaryQuery(): string {
  const source = fs.readFileSync(
    path.join(__dirname, '..', 'src', 'store', 'store.ts'),
    'utf-8'
  );
  const match = /const SUMMARY = `([^`]*)`/.exec(source);
  if (!match) {
    throw new Error(
      'SUMMARY (the query of listRuns) not found in src/store/store.ts'
    );
  }
  return match[1];
}

function time(events: Events, name: string): number {
  return events.find(([n]) => n === name)?.[1] ?? NaN;
}

/** Pair `name#n:start` / `name#n:end` events into steps (ms from t0). */
function stepsOf(events: Events, t0: number): IStep[] {
  const steps = new Map<string, IStep>();
  for (const [event, t] of events) {
    const m = /^(.*):(start|end)$/.exec(event);
    if (!m) {
      continue;
    }
    const s = steps.get(m[1]) ?? { name: m[1], start: NaN, end: NaN };
    s[m[2] as 'start' | 'end'] = t - t0;
    steps.set(m[1], s);
  }
  return [...steps.values()];
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}
