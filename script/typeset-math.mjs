#!/usr/bin/env node
// Typesets the math of built pages in place: `node script/typeset-math.mjs SITE_DIR [FILE ...]`.
//
// kramdown leaves math as \( .. \) and \[ .. \]; this replaces each with SVG (plus assistive
// MathML), so a page needs no script to show its math and the text never moves when it
// appears. Equations are numbered per chapter, (2.7). Links written with the {% eqref %} Liquid
// tag (another chapter's equation) get their target's page and number once every page is
// typeset. (The print edition is assembled from the typeset pages: _plugins/print_edition.rb.)
//
// It fails, naming the page and the fragment, when
//   - a fragment is not valid TeX (an unknown macro included),
//   - an \eqref or \ref names a label that the page does not define, or {% eqref %} one that
//     no page defines,
//   - math is left untypeset: a stray \(, \[ or $$ in the text, as when kramdown has split a
//     paragraph into a table at a `|` inside inline math, or a display has unbalanced braces.
import { mkdirSync, readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative, resolve, sep } from 'node:path';
import { adaptor, loadMacros, markWideInline, pageDocument, slimSvg } from '../lib/mathjax.mjs';
import { glyphCacheFirst, parserYieldPoints } from '../lib/parse-order.mjs';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SKIPPED_TAGS = new Set(['script', 'style', 'code', 'pre', 'textarea', 'svg', 'mjx-container', 'mjx-assistive-mml']);
const CROSS_REFERENCE = /<a class="eqref-xref" data-label="([^"]+)" href="[^"]*">[^<]*<\/a>/g;

function htmlFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return htmlFiles(path);
    return name.endsWith('.html') ? [path] : [];
  });
}

// Text outside code, scripts and typeset math that still holds a math delimiter.
function strayDelimiters(node, found = []) {
  const kind = adaptor.kind(node);
  if (kind === '#text') {
    const text = adaptor.value(node);
    if (/\\\(|\\\)|\\\[|\\\]|\$\$/.test(text)) found.push(text.trim().slice(0, 120));
  } else if (!kind.startsWith('#') && !SKIPPED_TAGS.has(kind)) {
    for (const child of adaptor.childNodes(node)) strayDelimiters(child, found);
  }
  return found;
}

function undefinedReferences(math) {
  const labels = new Set();
  const refs = [];
  for (const item of math) {
    for (const m of item.math.matchAll(/\\label\{([^}]*)\}/g)) labels.add(m[1]);
    for (const m of item.math.matchAll(/\\(?:eq)?ref\{([^}]*)\}/g)) refs.push({ label: m[1], tex: item.math });
  }
  return refs.filter((ref) => !labels.has(ref.label));
}

// Typesets one HTML document.
function typesetDocument(html, macros, chapter) {
  const errors = [];
  const { doc, tex } = pageDocument(html, { macros, chapter, errors });
  doc.render();
  const math = Array.from(doc.math);
  const problems = errors.map((e) => `TeX error: ${e.message} in: ${e.tex}`);
  for (const ref of undefinedReferences(math)) problems.push(`undefined equation label: \\eqref{${ref.label}} in: ${ref.tex}`);
  for (const text of strayDelimiters(adaptor.body(doc.document))) {
    problems.push(`math left untypeset (a | inside inline math, or unbalanced braces?): ${text}`);
  }
  // The SVG is aria-hidden (screen readers read the assistive MathML instead), so the links
  // MathJax puts inside it (\eqref) must not take keyboard focus.
  for (const item of math) {
    if (item.typesetRoot) for (const link of adaptor.tags(item.typesetRoot, 'a')) adaptor.setAttribute(link, 'tabindex', '-1');
    if (item.typesetRoot) slimSvg(item.typesetRoot);
    if (item.typesetRoot) markWideInline(item.typesetRoot);
  }
  const labels = {};
  for (const [label, { tag, id }] of Object.entries(tex.parseOptions.tags.allLabels)) labels[label] = { tag, id };
  return { doc, problems, labels, count: math.length };
}

export function typesetPage(html, macros) {
  const chapterMatch = html.match(/<body[^>]*data-chapter="(\d+)"/);
  // MathJax's render() puts its SVG stylesheet (<style id="MJX-SVG-styles">) in the head.
  const page = typesetDocument(html, macros, chapterMatch ? chapterMatch[1] : null);
  glyphCacheFirst(page.doc.document);
  parserYieldPoints(page.doc.document);
  const output = adaptor.doctype(page.doc.document) + '\n' + adaptor.outerHTML(adaptor.root(page.doc.document));
  return { output, problems: page.problems, labels: page.labels, count: page.count };
}

// Typesetting is a pure function of the page's HTML, the macros and this code, so results are
// cached by their hash: a rebuild under `jekyll serve` typesets only the pages that changed.
const CODE_VERSION = createHash('sha256')
  .update(readFileSync(new URL(import.meta.url)))
  .update(readFileSync(new URL('../lib/mathjax.mjs', import.meta.url)))
  .update(readFileSync(new URL('../lib/parse-order.mjs', import.meta.url)))
  .digest('hex');

function cachedTypeset(html, macros, cacheDir) {
  const key = createHash('sha256').update(CODE_VERSION).update(JSON.stringify(macros)).update(html).digest('hex');
  const path = join(cacheDir, `${key}.json`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    const result = typesetPage(html, macros);
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(path, JSON.stringify(result));
    return result;
  }
}

// The typeset display that holds the element `id` on a page, made self-contained for another
// page: its glyph references (<use href="#MJX-...">, into the page's font cache) become copies
// of the glyphs' paths.
function standaloneEquation(html, id) {
  const at = html.indexOf(` id="${id}"`);
  if (at < 0) return null;
  const start = html.lastIndexOf('<mjx-container', at);
  const end = html.indexOf('</mjx-container>', at);
  if (start < 0 || end < 0) return null;
  const glyphs = new Map();
  for (const m of html.matchAll(/<path id="(MJX-[^"]+)" d="([^"]*)"/g)) glyphs.set(m[1], m[2]);
  return html.slice(start, end + '</mjx-container>'.length)
    .replace(/<use([^>]*?) href="#(MJX-[^"]+)"([^>]*)><\/use>/g, (whole, before, glyph, after) => (
      glyphs.has(glyph) ? `<path${before} d="${glyphs.get(glyph)}"${after}></path>` : whole))
    .replace(/ id="[^"]*"/g, '');
}

function escapeAttribute(text) {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function siteUrl(siteDir, file) {
  return '/' + relative(siteDir, file).split(sep).join('/');
}

function main(argv) {
  const [siteDir, ...only] = argv;
  if (!siteDir) {
    console.error('usage: typeset-math.mjs SITE_DIR [FILE ...]');
    process.exit(2);
  }
  const source = process.env.VAERIANTS_SOURCE || ROOT;
  const macros = loadMacros(join(source, '_data', 'macros.json'));
  const cacheDir = join(source, '.jekyll-cache', 'vaeriants-math');
  const files = only.length ? only : htmlFiles(siteDir);
  const problems = [];
  const labelHome = {}; // label -> { url, tag, id } on the page that numbers it as its chapter
  let total = 0;
  for (const file of files) {
    const html = readFileSync(file, 'utf8');
    if (!/\\\(|\\\[|\$\$/.test(html)) continue;
    const result = cachedTypeset(html, macros, cacheDir);
    total += result.count;
    writeFileSync(file, result.output);
    for (const problem of result.problems) problems.push(`${relative(siteDir, file)}: ${problem}`);
    const isChapter = /<body[^>]*data-chapter=/.test(html);
    for (const [label, where] of Object.entries(result.labels)) {
      if (isChapter || !labelHome[label]) labelHome[label] = { url: siteUrl(siteDir, file), ...where };
    }
  }
  // Links to equations of other pages, by label, with the equation itself for the preview.
  const typesetPages = new Map();
  const pageHtml = (url) => {
    if (!typesetPages.has(url)) typesetPages.set(url, readFileSync(join(siteDir, url), 'utf8'));
    return typesetPages.get(url);
  };
  for (const file of files) {
    const html = readFileSync(file, 'utf8');
    if (!html.includes('class="eqref-xref"')) continue;
    writeFileSync(file, html.replace(CROSS_REFERENCE, (whole, label) => {
      const home = labelHome[label];
      if (!home) {
        problems.push(`${relative(siteDir, file)}: undefined equation label: {% eqref ${label} %}`);
        return whole;
      }
      const preview = standaloneEquation(pageHtml(home.url), home.id);
      const previewAttribute = preview ? ` data-preview="${escapeAttribute(preview)}"` : '';
      return `<a class="eqref-xref" data-label="${label}" href="${process.env.VAERIANTS_BASEURL || ''}${home.url}#${home.id}"${previewAttribute}>(${home.tag})</a>`;
    }));
  }
  for (const problem of problems) console.error(problem);
  console.log(`typeset ${total} expressions in ${files.length} pages; ${problems.length} problem(s)`);
  process.exit(problems.length ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2));
}
