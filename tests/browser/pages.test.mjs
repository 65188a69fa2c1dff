// Every page in Chromium: no console error, no request to another host, no MathJax error, no
// horizontal scroll on a phone; and axe-core finds no accessibility violation in either colour
// scheme.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { openPage, sitePages, startSiteAndBrowser } from './helpers.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const PAGES = sitePages();

let site;
before(async () => { site = await startSiteAndBrowser(); });
after(async () => { await site.close(); });

describe('every page loads cleanly', () => {
  for (const path of PAGES) {
    test(path, async () => {
      const context = await site.browser.newContext();
      const { page, problems } = await openPage(context, site.url, path);
      const mathErrors = await page.locator('mjx-merror, [data-mjx-error]').count();
      await context.close();
      if (path === '/404.html') problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('404')));
      assert.deepEqual(problems, [], `${path}: ${problems.join('; ')}`);
      assert.equal(mathErrors, 0, `${path}: ${mathErrors} MathJax error(s)`);
    });
  }
});

describe('phone layout has no horizontal scroll', () => {
  for (const path of PAGES) {
    test(path, async () => {
      const context = await site.browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
      const { page } = await openPage(context, site.url, path);
      // Blocks skipped by content-visibility clip what overflows them: lay out every block, so
      // that a box too wide for the phone widens the page here instead of hiding its end.
      await page.addStyleTag({ content: '* { content-visibility: visible !important; }' });
      const { scrollWidth, clientWidth } = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
      }));
      const sidebarShown = await page.locator('.sidebar-chapters').isVisible().catch(() => false);
      await context.close();
      assert.ok(scrollWidth <= clientWidth, `${path}: page is ${scrollWidth}px wide on a ${clientWidth}px phone`);
      assert.equal(sidebarShown, false, `${path}: the sidebar's chapter list should fold away on a phone`);
    });
  }
});

// The print edition (/print.html, 6 MB) takes axe about 25 s a scheme: worth it, since the page
// has its own frame, landmarks and, with no script, its own wide equations.
describe('axe-core finds no violation', () => {
  for (const scheme of ['light', 'dark']) {
    for (const path of PAGES) {
      test(`${path} (${scheme})`, async () => {
        const context = await site.browser.newContext({ colorScheme: scheme });
        const { page } = await openPage(context, site.url, path);
        await page.addScriptTag({ content: AXE });
        const violations = await page.evaluate(async () => {
          const result = await window.axe.run(document, { resultTypes: ['violations'] });
          return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`);
        });
        await context.close();
        assert.deepEqual(violations, [], `${path} in the ${scheme} scheme:\n${violations.join('\n')}`);
      });
    }
  }
});
