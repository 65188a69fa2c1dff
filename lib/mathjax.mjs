// MathJax in node, set up once for the whole monograph: TeX in, SVG out, with the notation
// macros of _data/macros.json, AMS equation numbers prefixed by the chapter number, and
// assistive MathML for screen readers. Used by script/typeset-math.mjs (the build) and by the
// math checks; both therefore typeset exactly alike.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const { mathjax } = require('mathjax-full/js/mathjax.js');
const { TeX } = require('mathjax-full/js/input/tex.js');
const { SVG } = require('mathjax-full/js/output/svg.js');
const { liteAdaptor } = require('mathjax-full/js/adaptors/liteAdaptor.js');
const { RegisterHTMLHandler } = require('mathjax-full/js/handlers/html.js');
const { AssistiveMmlHandler } = require('mathjax-full/js/a11y/assistive-mml.js');
const { AllPackages } = require('mathjax-full/js/input/tex/AllPackages.js');

// `noundefined` would render an unknown macro in red without an error; without it, an
// unknown macro is a TeX error that the checks report. `autoload` and `require` would load
// packages at run time, which build-time typesetting has no use for.
const PACKAGES = AllPackages.filter((name) => !['noundefined', 'autoload', 'require'].includes(name));

export const adaptor = liteAdaptor();
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));

export function loadMacros(path) {
  const macros = JSON.parse(readFileSync(path, 'utf8'));
  return Object.fromEntries(Object.entries(macros).map(([name, body]) => [name, body]));
}

// A MathJax document for one HTML page. `errors` collects {tex, message} for each fragment
// that fails to typeset; `chapter` (a number or null) prefixes equation numbers, as (2.7).
// Returns the document and its TeX input jax (whose tags hold the page's equation labels).
export function pageDocument(html, { macros, chapter, errors }) {
  const tex = new TeX({
    packages: PACKAGES,
    macros,
    inlineMath: [['\\(', '\\)']],
    displayMath: [['\\[', '\\]']],
    processEscapes: false,
    tags: 'ams',
    tagformat: {
      number: (n) => (chapter ? `${chapter}.${n}` : String(n)),
      id: (label) => label.replace(/[^A-Za-z0-9_-]/g, '-'),
    },
    formatError: (jax, error) => {
      errors.push({ tex: jax.latex, message: error.message });
      return jax.formatError(error);
    },
  });
  const svg = new SVG({ fontCache: 'global' }); // each glyph's path once per page
  const doc = mathjax.document(html, { InputJax: tex, OutputJax: svg });
  return { doc, tex };
}

// Attributes MathJax writes for its own tools (the explorer, menus) that neither the page's
// CSS nor a reader uses. The node names that MathJax's stylesheet selects on are kept.
const SPARE_ATTRIBUTES = ['data-mjx-texclass', 'data-mjx-auto-op', 'data-mjx-alternate'];
const STYLED_NODES = new Set(['mtable', 'merror', 'maction']);

// Makes a typeset equation's SVG lighter for the browser: drops unused attributes and
// unwraps the groups that are left with none. A long chapter holds tens of thousands of SVG
// elements, and each costs parsing and style time when the page loads.
// The HTML parser needs no namespace declarations on inline SVG, and takes SVG 2's plain
// `href` on <use>; the glyphs' `data-c` (the character code) is only there for the stylesheet
// rule `use[data-c] { stroke-width: 3 }`, which the site's stylesheet states for every <use>.
export function slimSvg(node) {
  for (const child of adaptor.childNodes(node)) if (!adaptor.kind(child).startsWith('#')) slimSvg(child);
  const kind = adaptor.kind(node);
  if (kind === 'svg') {
    adaptor.removeAttribute(node, 'xmlns');
    adaptor.removeAttribute(node, 'xmlns:xlink');
  }
  if (kind === 'use') {
    const target = adaptor.getAttribute(node, 'xlink:href');
    if (target) {
      adaptor.removeAttribute(node, 'xlink:href');
      adaptor.setAttribute(node, 'href', target);
    }
    adaptor.removeAttribute(node, 'data-c');
  }
  if (kind !== 'g') return;
  for (const name of SPARE_ATTRIBUTES) adaptor.removeAttribute(node, name);
  const mml = adaptor.getAttribute(node, 'data-mml-node');
  if (mml && !STYLED_NODES.has(mml)) adaptor.removeAttribute(node, 'data-mml-node');
  const parent = adaptor.parent(node);
  const parentStyled = parent && STYLED_NODES.has(adaptor.getAttribute(parent, 'data-mml-node'));
  if (!parent || parentStyled) return;
  const attributes = adaptor.allAttributes(node).map((a) => a.name);
  if (attributes.length === 0) {
    for (const child of adaptor.childNodes(node)) adaptor.insert(child, node);
    adaptor.remove(node);
    return;
  }
  // <g transform="A"><use transform="B"/></g> draws as <use transform="A B"/>: a group that
  // only moves its one child hands its transform down (about a fifth of a chapter's elements).
  const children = adaptor.childNodes(node);
  const only = children.length === 1 ? children[0] : null;
  if (attributes.length === 1 && attributes[0] === 'transform' && only && FOLDABLE.has(adaptor.kind(only))) {
    const inner = adaptor.getAttribute(only, 'transform');
    adaptor.setAttribute(only, 'transform', inner ? `${adaptor.getAttribute(node, 'transform')} ${inner}` : adaptor.getAttribute(node, 'transform'));
    adaptor.insert(only, node);
    adaptor.remove(node);
  }
}
const FOLDABLE = new Set(['g', 'use', 'path', 'rect', 'line']);

// Inline math wider than this (in ex, about 250 px) may not fit a phone's line. An SVG cannot
// break, so such an expression gets its own horizontal scroll box (class mjx-wide, see
// _sass/_chapter.scss) instead of widening the page. A box whose overflow is not visible sits
// on its bottom edge, so it is lowered by the depth of the math, as the SVG itself was.
const WIDE_INLINE_EX = 30;
export function markWideInline(container) {
  if (adaptor.getAttribute(container, 'display') === 'true') return;
  const svg = adaptor.firstChild(container);
  if (!svg || adaptor.kind(svg) !== 'svg') return;
  const width = parseFloat(adaptor.getAttribute(svg, 'width'));
  if (!(width > WIDE_INLINE_EX)) return;
  const depth = (adaptor.getAttribute(svg, 'style') || '').match(/vertical-align:\s*([-\d.]+ex)/);
  adaptor.addClass(container, 'mjx-wide');
  const style = adaptor.getAttribute(container, 'style') || '';
  adaptor.setAttribute(container, 'style', `${style} vertical-align: ${depth ? depth[1] : '0'};`.trim());
}
