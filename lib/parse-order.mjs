// The order of a typeset page's bytes, arranged so that Chromium shows and parses a long
// chapter without long main-thread tasks. Both changes were measured with bench/run.mjs and
// traces of chapter 8 (the longest; see the README's Performance section).
import { adaptor } from './mathjax.mjs';

// Every glyph of the page's math is drawn by <use href="#MJX-..."> from one hidden <svg> of
// glyph paths, the font cache, which MathJax appends at the end of <body>. A <use> whose
// glyph is not parsed yet draws nothing: the first screen's math would only appear once the
// whole page had been parsed (about 0.3 s after the text, 0.9 s at 4x CPU throttling on
// chapter 8), and all the page's glyph references would be resolved in one long task. Before
// everything else in <body>, the glyphs are there when the first equation is parsed.
export function glyphCacheFirst(document) {
  const body = adaptor.body(document);
  const cache = adaptor.childNodes(body).find((node) => adaptor.kind(node) === 'svg'
    && adaptor.getAttribute(node, 'id') === 'MJX-SVG-global-cache');
  if (cache) adaptor.insert(cache, adaptor.firstChild(body));
}

// Chromium's HTML parser yields to other work every few milliseconds only while a page is
// young; once the rest of the document has arrived it parses all of it in one task (about
// 160 ms at 4x CPU throttling on chapter 8), which is blocking time. After it runs a script,
// the parser checks its time budget again. So an inline script that does nothing, between
// blocks of the sections' bodies every YIELD_BYTES, splits that task into short ones: total
// blocking time at 4x went from 233-361 ms to at most 39 ms on the chapters. (This only works
// with the glyph cache first: otherwise every glyph reference is resolved in one task when
// the parser reaches the cache at the end.) The scripts are display: none, and the print
// edition drops them (_plugins/print_edition.rb). None goes among the first section's first
// FIRST_BLOCKS blocks, which the stylesheet always lays out by counting children
// (_sass/_chapter.scss; Sass cannot write `:nth-child(n of S)`).
const YIELD_BYTES = 30 * 1024;
const FIRST_BLOCKS = 12;
const YIELD_SCRIPT_CLASS = 'parser-yield'; // tests/test_page_order.py and the print edition name it

export function parserYieldPoints(document) {
  let sinceLast = 0;
  for (const flow of adaptor.tags(adaptor.body(document), 'div')) {
    if (!adaptor.hasClass(flow, 'section-flow')) continue;
    const first = adaptor.hasClass(flow, 'section-flow-first');
    const blocks = adaptor.childNodes(flow).filter((node) => !adaptor.kind(node).startsWith('#'));
    for (const [index, block] of blocks.entries()) {
      if (sinceLast > YIELD_BYTES && !(first && index < FIRST_BLOCKS)) {
        adaptor.insert(adaptor.node('script', { class: YIELD_SCRIPT_CLASS }, [adaptor.text('0')]), block);
        sinceLast = 0;
      }
      sinceLast += adaptor.outerHTML(block).length;
    }
  }
}
