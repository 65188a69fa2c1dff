#!/usr/bin/env node
// Typesets the math of built pages in place: `node script/typeset-math.mjs SITE_DIR [FILE ...]`.
//
// kramdown leaves math as \( .. \) and \[ .. \]; this replaces each with SVG (plus assistive
// MathML), so a page needs no script to show its math and the text never moves when it
// appears. It fails, naming the page and the fragment, when
//   - a fragment is not valid TeX (an unknown macro included),
//   - an \eqref or \ref names a label that the page does not define,
//   - math is left untypeset: a stray \(, \[ or $$ in the text, as when kramdown has split a
//     paragraph into a table at a `|` inside inline math, or a display has unbalanced braces.
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { adaptor, loadMacros, pageDocument, svgStyleSheet } from '../lib/mathjax.mjs';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SKIPPED_TAGS = new Set(['script', 'style', 'code', 'pre', 'textarea', 'svg', 'mjx-container', 'mjx-assistive-mml']);

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
    const match = text.match(/\\\(|\\\)|\\\[|\\\]|\$\$/);
    if (match) found.push(text.trim().slice(0, 120));
  } else if (!SKIPPED_TAGS.has(kind)) {
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

export function typesetPage(html, macros) {
  const errors = [];
  const chapterMatch = html.match(/<body[^>]*data-chapter="(\d+)"/);
  const doc = pageDocument(html, { macros, chapter: chapterMatch ? chapterMatch[1] : null, errors });
  doc.render();
  const problems = errors.map((e) => `TeX error: ${e.message} in: ${e.tex}`);
  for (const ref of undefinedReferences(Array.from(doc.math))) {
    problems.push(`undefined equation label: \\eqref{${ref.label}} in: ${ref.tex}`);
  }
  const body = adaptor.body(doc.document);
  for (const text of strayDelimiters(body)) {
    problems.push(`math left untypeset (a | inside inline math, or unbalanced braces?): ${text}`);
  }
  if (Array.from(doc.math).length > 0) {
    const style = adaptor.node('style', { id: 'MJX-SVG-styles' });
    adaptor.append(style, adaptor.text(svgStyleSheet(doc)));
    adaptor.append(adaptor.head(doc.document), style);
  }
  const output = adaptor.doctype(doc.document) + '\n' + adaptor.outerHTML(adaptor.root(doc.document));
  return { output, problems, count: Array.from(doc.math).length };
}

function main(argv) {
  const [siteDir, ...only] = argv;
  if (!siteDir) {
    console.error('usage: typeset-math.mjs SITE_DIR [FILE ...]');
    process.exit(2);
  }
  const macros = loadMacros(join(process.env.VAERIANTS_SOURCE || ROOT, '_data', 'macros.json'));
  const files = only.length ? only : htmlFiles(siteDir);
  let failures = 0;
  let total = 0;
  for (const file of files) {
    const html = readFileSync(file, 'utf8');
    if (!/\\\(|\\\[|\$\$/.test(html)) continue;
    const { output, problems, count } = typesetPage(html, macros);
    total += count;
    writeFileSync(file, output);
    for (const problem of problems) {
      console.error(`${relative(siteDir, file)}: ${problem}`);
      failures += 1;
    }
  }
  console.log(`typeset ${total} expressions in ${files.length} pages; ${failures} problem(s)`);
  process.exit(failures ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2));
}
