#!/usr/bin/env node
// Makes the PDF of the whole monograph from the built site's print edition:
// `node script/make-pdf.mjs [SITE_DIR]` writes SITE_DIR/vaeriants.pdf (default _site), with
// the math typeset (the page carries it as SVG), links kept, page numbers, and an outline (the
// PDF's table of contents) from the headings. `rake pdf` runs it after the build.
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchBrowser } from '../lib/browser.mjs';
import { serveSite } from '../lib/static-server.mjs';

const siteDir = resolve(process.argv[2] || '_site');
const output = join(siteDir, 'vaeriants.pdf');
const started = performance.now();
const { server, url } = await serveSite(siteDir);
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  const response = await page.goto(`${url}/print.html`, { waitUntil: 'load', timeout: 120_000 });
  if (!response.ok()) throw new Error(`${url}/print.html answered ${response.status()}: is the site built?`);
  await page.emulateMedia({ media: 'print', colorScheme: 'light' });
  // Links to other pages of the site are site-absolute (/notation.html); in the PDF they must
  // lead to the published site, not to this temporary server.
  await page.evaluate(() => {
    const site = document.querySelector('link[rel="canonical"]').href;
    for (const link of document.querySelectorAll('a[href^="/"]')) link.href = new URL(link.getAttribute('href'), site).href;
  });
  await page.evaluate(() => document.fonts.ready);
  await page.pdf({
    path: output, format: 'A4', printBackground: true, outline: true, tagged: true, timeout: 300_000,
    margin: { top: '18mm', bottom: '18mm', left: '16mm', right: '16mm' },
    displayHeaderFooter: true, headerTemplate: '<span></span>',
    footerTemplate: '<div style="font-size:8px;width:100%;text-align:center;color:#555"><span class="pageNumber"></span></div>',
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`wrote ${output} (${(statSync(output).size / 1e6).toFixed(1)} MB) in ${seconds} s`);
} finally {
  await browser.close();
  server.close();
}
