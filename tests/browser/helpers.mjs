// Shared set-up of the browser tests: the built site served on localhost, one Chromium for the
// whole file, and the list of the site's pages.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { launchBrowser } from '../../lib/browser.mjs';
import { serveSite } from '../../lib/static-server.mjs';

export const SITE = resolve(new URL('../../_site', import.meta.url).pathname);

export function sitePages(dir = SITE) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'pagefind') return [];
    if (statSync(path).isDirectory()) return sitePages(path);
    return name.endsWith('.html') ? ['/' + relative(SITE, path).split(sep).join('/')] : [];
  }).sort();
}

export async function startSiteAndBrowser(browserOptions = {}) {
  const { server, url } = await serveSite(SITE);
  const browser = await launchBrowser(browserOptions);
  return {
    url,
    browser,
    async close() { await browser.close(); server.close(); },
  };
}

// Opens a page and records what went wrong while it loaded: console errors, uncaught
// exceptions, failed requests, and requests to any host but the local one.
export async function openPage(context, base, path, options = {}) {
  const page = await context.newPage();
  const problems = [];
  const host = new URL(base).host;
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console error: ${message.text()}`); });
  page.on('pageerror', (error) => problems.push(`uncaught exception: ${error.message}`));
  page.on('request', (request) => {
    const target = new URL(request.url());
    if (/^https?:$/.test(target.protocol) && target.host !== host) problems.push(`request to another host: ${request.url()}`);
  });
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  await page.goto(base + path, { waitUntil: options.waitUntil || 'load' });
  // reader.js marks the boxes that scroll (keyboard access) after the first frame. (The print
  // edition loads no script.)
  await page.waitForFunction(() => !document.querySelector('script[src$="reader.js"]')
    || document.documentElement.dataset.scrollablesMarked === 'true', null, { timeout: 10000 });
  return { page, problems };
}
