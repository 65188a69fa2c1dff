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
export function pageDocument(html, { macros, chapter, errors, fontCache = 'global' }) {
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
  const svg = new SVG({ fontCache });
  const doc = mathjax.document(html, { InputJax: tex, OutputJax: svg });
  return { doc, tex };
}

export function svgStyleSheet(doc) {
  return adaptor.textContent(doc.outputJax.styleSheet(doc));
}
