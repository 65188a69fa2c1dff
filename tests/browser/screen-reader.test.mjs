// What a screen reader gets: with a screen reader running, Chromium builds its accessibility
// tree from the page's first frame (--force-renderer-accessibility does the same). Content that
// content-visibility skips (the sections below the first screen, and every assistive MathML
// copy, which is clipped and so never laid out) must still be in that tree: every equation as
// MathML with its parts, every heading and paragraph with its text.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, sitePages, startSiteAndBrowser } from './helpers.mjs';

const PAGES = sitePages().filter((path) => path.startsWith('/chapters/') || path === '/notation.html');

let site;
before(async () => { site = await startSiteAndBrowser({ extraArgs: ['--force-renderer-accessibility'] }); });
after(async () => { await site.close(); });

// The accessibility tree as Chromium would hand it to a screen reader: nodes not ignored.
async function exposedNodes(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Accessibility.enable');
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  return nodes.filter((node) => !node.ignored);
}

describe('skipped content stays in the accessibility tree', () => {
  for (const path of PAGES) {
    test(path, async () => {
      const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
      const { page } = await openPage(context, site.url, path);
      const inPage = await page.evaluate(() => ({
        math: document.querySelectorAll('mjx-assistive-mml > math').length,
        fractions: document.querySelectorAll('mjx-assistive-mml mfrac').length,
        // A heading's text without its "#" link (named "Link to this section").
        headings: [...document.querySelectorAll('main h2, main h3')].map((h) => [...h.childNodes]
          .filter((n) => !n.classList?.contains('heading-anchor')).map((n) => n.textContent).join('').trim()),
        // The last run of plain text (ten characters or more, outside math) of the last paragraph in
        // a section body, which content-visibility skips at load (a page without them: its last).
        lastText: [...document.querySelectorAll(document.querySelector('main .section-flow') ? 'main .section-flow p' : 'main p')].flatMap((p) => {
          const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
          const runs = [];
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            const text = n.textContent.replace(/\s+/g, ' ').trim();
            if (text.length >= 10 && !n.parentElement.closest('mjx-container')) runs.push(text);
          }
          return runs;
        }).pop(),
      }));
      const nodes = await exposedNodes(page);
      await context.close();
      const count = (role) => nodes.filter((node) => node.role?.value === role).length;
      assert.ok(inPage.math > 0, `${path}: no assistive MathML found`);
      assert.equal(count('MathMLMath'), inPage.math, `${path}: ${inPage.math - count('MathMLMath')} equation(s) missing from the accessibility tree`);
      assert.equal(count('MathMLFraction'), inPage.fractions, `${path}: fractions missing from the accessibility tree`);
      const headings = nodes.filter((node) => node.role?.value === 'heading').map((node) => node.name?.value || '');
      const missing = inPage.headings.filter((text) => !headings.some((name) => name.startsWith(text)));
      assert.deepEqual(missing, [], `${path}: heading(s) missing from the accessibility tree`);
      const texts = nodes.filter((node) => node.role?.value === 'StaticText').map((node) => (node.name?.value || '').replace(/\s+/g, ' '));
      assert.ok(texts.some((text) => text.includes(inPage.lastText)),
        `${path}: the last paragraph's text ("${inPage.lastText}") is missing from the accessibility tree`);
    });
  }
});
