#!/usr/bin/env node
// The monograph's performance benchmark: `node bench/run.mjs [--runs N] [--with-tests]`.
//
// Prints a table and writes bench/results.json:
//   - every page of the built site (_site), over N cold loads in Debian's Chromium: time until
//     the first screen is final (text painted, fonts loaded, its math typeset and its glyphs
//     parsed, every block on it laid out, content-visibility notwithstanding), time until all
//     math is typeset, first contentful paint, the same first-screen time and the total
//     blocking time with the CPU throttled 4x, layout shift, bytes transferred (gzip);
//   - the longest chapter rendered with stock client-side MathJax 3 (the full tex-chtml
//     component typesetting the whole page on load), in the same run, and the ratio;
//   - the longest chapter with its math cut out ("text only"): the floor under any way of
//     showing the math, so stock / text only bounds the ratio any set-up could reach here;
//   - the bytes of a second chapter read after the longest one (cache warm);
//   - the cold build time, the rebuild time under `jekyll build --watch` (what `jekyll serve`
//     runs) after one chapter changes, and, with --with-tests, the time of script/test.
// Medians with min-max. Timings are measured, never asserted: the test suite holds none.
// --pages-only skips the build timings and --only PATH measures one page (quick looks; the
// README quotes full runs).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import os from 'node:os';
import { launchBrowser } from '../lib/browser.mjs';
import { serveSite } from '../lib/static-server.mjs';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SITE = join(ROOT, '_site');
const STOCK = join(ROOT, 'tmp', 'bench-stock');
const TEXT_ONLY = join(ROOT, 'tmp', 'bench-text-only');
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1]) || 5;
const WITH_TESTS = args.includes('--with-tests');
const PAGES_ONLY = args.includes('--pages-only'); // skip the build timings, for a quick look
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : null; // one page's path

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const summary = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs });

// Recorded in the page from its first byte: paints, layout shifts, long tasks, and when the
// first screen's math and fonts are done.
const INSTRUMENT = `
  window.__bench = { shifts: 0, longTasks: [], mathDone: null, parsed: null, fontsDone: null, shownOnFirstScreen: 0, glyphsDone: 0 };
  // Typeset math draws its glyphs from the page's font cache (<svg id="MJX-SVG-global-cache">):
  // until the parser is past it, every equation is blank. It is past it when the cache has a
  // next sibling. (Stock MathJax has no such cache: the observer stops at DOMContentLoaded.)
  const glyphWatch = new MutationObserver(() => {
    const cache = document.getElementById('MJX-SVG-global-cache');
    if (cache && cache.nextSibling) { window.__bench.glyphsDone = performance.now(); glyphWatch.disconnect(); }
  });
  glyphWatch.observe(document, { childList: true, subtree: true });
  // A block that content-visibility skipped and lays out later is part of the first screen
  // when it lies on it: the first screen is final only once such blocks are shown.
  document.addEventListener('contentvisibilityautostatechange', (e) => {
    if (e.skipped || window.scrollY !== 0) return;
    const r = e.target.getBoundingClientRect();
    if (r.top < innerHeight && r.bottom > 0) window.__bench.shownOnFirstScreen = performance.now();
  }, true);
  new PerformanceObserver((l) => { for (const e of l.getEntries()) if (!e.hadRecentInput) window.__bench.shifts += e.value; })
    .observe({ type: 'layout-shift', buffered: true });
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__bench.longTasks.push([e.startTime, e.duration]); })
    .observe({ type: 'longtask', buffered: true });
  document.fonts.ready.then(() => { window.__bench.fontsDone = performance.now(); });
  document.addEventListener('DOMContentLoaded', () => {
    const cache = document.getElementById('MJX-SVG-global-cache');
    if (cache && !window.__bench.glyphsDone) window.__bench.glyphsDone = performance.now();
    glyphWatch.disconnect();
    // Math typeset at build time is all there once the page is parsed; MathJax in the page
    // typesets it after that.
    window.__bench.parsed = performance.now();
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(() => { window.__bench.mathDone = performance.now(); });
  });
`;

async function measureLoad(browser, url, { throttle = 1, warmUp = null } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  if (warmUp) { await page.goto(warmUp, { waitUntil: 'load' }); await page.waitForTimeout(300); }
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: !warmUp });
  if (throttle !== 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  await page.addInitScript(INSTRUMENT);
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__bench.parsed !== null && (window.__bench.mathDone !== null || !window.MathJax) && window.__bench.fontsDone !== null, null, { timeout: 120000 });
  await page.waitForTimeout(500 * throttle); // let late tasks and shifts land
  const m = await page.evaluate(() => {
    const fcp = (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0;
    const b = window.__bench;
    const mathAll = Math.max(fcp, b.glyphsDone, b.mathDone === null ? b.parsed : b.mathDone);
    const tbt = b.longTasks.filter(([start]) => start >= fcp).reduce((sum, [, d]) => sum + Math.max(0, d - 50), 0);
    const firstScreen = Math.max(fcp, b.fontsDone, b.glyphsDone, b.mathDone || 0, b.shownOnFirstScreen);
    return { fcp, firstScreen, mathAll, shift: b.shifts, tbt };
  });
  await context.close();
  return { ...m, bytes };
}

async function measurePage(browser, url, label) {
  const plain = []; const slow = [];
  for (let i = 0; i < RUNS; i += 1) plain.push(await measureLoad(browser, url));
  for (let i = 0; i < RUNS; i += 1) slow.push(await measureLoad(browser, url, { throttle: 4 }));
  const pick = (rows, key) => summary(rows.map((r) => r[key]));
  return {
    page: label,
    first_screen_ms: pick(plain, 'firstScreen'), all_math_ms: pick(plain, 'mathAll'), fcp_ms: pick(plain, 'fcp'),
    first_screen_4x_ms: pick(slow, 'firstScreen'), tbt_4x_ms: pick(slow, 'tbt'),
    layout_shift: pick(plain.concat(slow), 'shift'), bytes: pick(plain, 'bytes'),
  };
}

function pagesOfSite() {
  const sitemap = readFileSync(join(SITE, 'sitemap.xml'), 'utf8');
  const paths = [...sitemap.matchAll(/<loc>[^<]*?(\/[^<]*)<\/loc>/g)].map((m) => new URL(m[1], 'http://x').pathname);
  return [...new Set(paths)];
}

function longestChapter() {
  const toc = readFileSync(join(ROOT, '_data', 'toc.yml'), 'utf8');
  const urls = [...toc.matchAll(/url: (\S+)/g)].map((m) => m[1]).filter((u) => existsSync(join(SITE, u)));
  const count = (u) => (readFileSync(join(SITE, u), 'utf8').match(/<mjx-container/g) || []).length;
  return urls.sort((a, b) => count(b) - count(a))[0];
}

// The longest chapter as stock MathJax 3 would show it: raw TeX from a build without
// typesetting, and the full tex-chtml component with the monograph's macros and numbering.
function buildStockPage(chapterUrl) {
  rmSync(STOCK, { recursive: true, force: true });
  mkdirSync(STOCK, { recursive: true });
  const config = join(STOCK, '_config.bench.yml');
  writeFileSync(config, 'vaeriants:\n  typeset_math: false\n');
  const build = spawnSync('bundle', ['exec', 'jekyll', 'build', '-q', '--config', `_config.yml,${config}`, '--destination', join(STOCK, 'site')], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`stock build failed:\n${build.stdout}${build.stderr}`);
  cpSync(join(ROOT, 'node_modules', 'mathjax', 'es5'), join(STOCK, 'site', 'mathjax'), { recursive: true });
  const macros = JSON.parse(readFileSync(join(ROOT, '_data', 'macros.json'), 'utf8'));
  const chapter = (chapterUrl.match(/chapters\/0?(\d+)-/) || [])[1];
  const script = `<script>window.MathJax = { tex: { macros: ${JSON.stringify(macros)}, tags: 'ams', tagformat: { number: (n) => '${chapter}.' + n } } };</script>
<script src="/mathjax/tex-chtml.js" id="MathJax-script"></script>`;
  const path = join(STOCK, 'site', chapterUrl);
  writeFileSync(path, readFileSync(path, 'utf8').replace('</head>', `${script}\n</head>`));
  return join(STOCK, 'site');
}

// The longest chapter with every equation and the glyph cache cut out: the same text, layout
// and stylesheet, no math. No way of showing the math can make the page faster than this.
function buildTextOnlyPage(chapterUrl) {
  rmSync(TEXT_ONLY, { recursive: true, force: true });
  cpSync(SITE, TEXT_ONLY, { recursive: true });
  const path = join(TEXT_ONLY, chapterUrl);
  writeFileSync(path, readFileSync(path, 'utf8')
    .replace(/<mjx-container[\s\S]*?<\/mjx-container>/g, '')
    .replace(/<svg id="MJX-SVG-global-cache"[\s\S]*?<\/svg>/, ''));
  return TEXT_ONLY;
}

function time(command, argv, options = {}) {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, argv, { cwd: ROOT, encoding: 'utf8', ...options });
  if (result.status !== 0) throw new Error(`${command} ${argv.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function coldBuilds() {
  const runs = [];
  for (let i = 0; i < 3; i += 1) {
    rmSync(join(ROOT, '.jekyll-cache'), { recursive: true, force: true });
    runs.push(time('bundle', ['exec', 'jekyll', 'build', '-q']));
  }
  return summary(runs);
}

// Rebuilds under `jekyll build --watch` (the watcher of `jekyll serve`) after a chapter changes.
async function watchRebuilds(chapterUrl) {
  const file = join(ROOT, chapterUrl.replace(/^\//, '').replace(/\.html$/, '.md'));
  const original = readFileSync(file, 'utf8');
  const watcher = spawn('bundle', ['exec', 'jekyll', 'build', '--watch', '--destination', join(ROOT, 'tmp', 'bench-watch')], { cwd: ROOT });
  let output = '';
  watcher.stdout.on('data', (d) => { output += d; });
  watcher.stderr.on('data', (d) => { output += d; });
  const doneCount = () => (output.match(/done in/g) || []).length;
  const waitFor = async (n) => { while (doneCount() < n) await new Promise((r) => setTimeout(r, 20)); };
  const runs = [];
  try {
    await waitFor(1);
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 3; i += 1) {
      const before = doneCount();
      const start = process.hrtime.bigint();
      appendFileSync(file, '\n');
      await waitFor(before + 1);
      runs.push(Number(process.hrtime.bigint() - start) / 1e6);
      await new Promise((r) => setTimeout(r, 1500));
    }
  } finally {
    writeFileSync(file, original);
    watcher.kill('SIGINT');
  }
  return summary(runs);
}

const fmt = (s, unit = 'ms') => `${Math.round(s.median)} ${unit} (${Math.round(s.min)}-${Math.round(s.max)})`;
const kib = (s) => `${(s.median / 1024).toFixed(0)} KiB`;

async function main() {
  if (!existsSync(join(SITE, 'index.html'))) throw new Error('no built site: run `bundle exec rake build` first');
  const longest = longestChapter();
  const stockRoot = buildStockPage(longest);
  const ours = await serveSite(SITE);
  const stock = await serveSite(stockRoot);
  const textOnly = await serveSite(buildTextOnlyPage(longest));
  const browser = await launchBrowser();
  const pages = [];
  try {
    for (const path of pagesOfSite().filter((p) => !ONLY || p === ONLY || p === longest)) pages.push(await measurePage(browser, ours.url + path, path));
    const stockRow = await measurePage(browser, stock.url + longest, `${longest} (stock MathJax 3)`);
    const textOnlyRow = await measurePage(browser, textOnly.url + longest, `${longest} (text only: math cut out)`);
    const oursRow = pages.find((p) => p.page === longest);
    const second = pagesOfSite().find((p) => p.startsWith('/chapters/') && p !== longest);
    const secondBytes = [];
    for (let i = 0; second && i < RUNS; i += 1) secondBytes.push((await measureLoad(browser, ours.url + second, { warmUp: ours.url + longest })).bytes);
    const builds = PAGES_ONLY ? {} : { cold_build_ms: coldBuilds(), rebuild_after_chapter_edit_ms: await watchRebuilds(longest) };
    if (WITH_TESTS) builds.test_command_ms = summary([time('script/test', [], { stdio: 'ignore' })]);
    const results = {
      machine: `${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
      browser: 'Debian chromium (headless) via playwright-core', date: new Date().toISOString(), runs: RUNS,
      longest_chapter: longest, pages, stock: stockRow, text_only: textOnlyRow,
      speedup_first_screen: stockRow.first_screen_ms.median / oursRow.first_screen_ms.median,
      speedup_ceiling: stockRow.first_screen_ms.median / textOnlyRow.first_screen_ms.median,
      second_chapter: second ? { page: second, bytes: summary(secondBytes) } : null,
      builds,
    };
    if (!PAGES_ONLY && !ONLY) writeFileSync(join(ROOT, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
    console.log(`machine: ${results.machine}; ${RUNS} cold loads per page; medians (min-max)\n`);
    console.log('| page | first screen final | all math typeset | FCP | first screen, CPU 4x | TBT, CPU 4x | layout shift | transferred |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of [...pages, stockRow, textOnlyRow]) {
      console.log(`| ${r.page} | ${fmt(r.first_screen_ms)} | ${fmt(r.all_math_ms)} | ${fmt(r.fcp_ms)} | ${fmt(r.first_screen_4x_ms)} | ${fmt(r.tbt_4x_ms)} | ${r.layout_shift.max.toFixed(3)} | ${kib(r.bytes)} |`);
    }
    console.log(`\nlongest chapter ${longest}: first screen ${results.speedup_first_screen.toFixed(1)}x sooner than stock MathJax 3`);
    console.log(`  (with no math at all it would be ${results.speedup_ceiling.toFixed(1)}x: the most any way of showing the math could reach here)`);
    if (second) console.log(`second chapter after it (${second}): ${kib(results.second_chapter.bytes)} transferred`);
    if (builds.cold_build_ms) console.log(`cold build: ${fmt(builds.cold_build_ms)}; rebuild after editing one chapter: ${fmt(builds.rebuild_after_chapter_edit_ms)}`);
    if (builds.test_command_ms) console.log(`script/test: ${fmt(builds.test_command_ms)}`);
  } finally {
    await browser.close();
    ours.server.close();
    stock.server.close();
    textOnly.server.close();
  }
}

main().catch((error) => { console.error(error); process.exit(1); });
