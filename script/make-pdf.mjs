#!/usr/bin/env node
// Makes the PDF of the whole monograph from the built site's print edition:
// `node script/make-pdf.mjs [SITE_DIR]` writes SITE_DIR/vaeriants.pdf (default _site), with
// the math typeset, links kept, and an outline (the PDF's table of contents) from the headings.
import { join, resolve } from 'node:path';
import { launchBrowser } from '../lib/browser.mjs';
import { serveSite } from '../lib/static-server.mjs';

const siteDir = resolve(process.argv[2] || '_site');
const output = join(siteDir, 'vaeriants.pdf');
const { server, url } = await serveSite(siteDir);
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.goto(`${url}/print.html`, { waitUntil: 'load' });
  await page.emulateMedia({ media: 'print', colorScheme: 'light' });
  await page.pdf({
    path: output, format: 'A4', printBackground: true, outline: true, tagged: true,
    margin: { top: '18mm', bottom: '18mm', left: '16mm', right: '16mm' },
    displayHeaderFooter: true, headerTemplate: '<span></span>',
    footerTemplate: '<div style="font-size:8px;width:100%;text-align:center;color:#555"><span class="pageNumber"></span></div>',
  });
  console.log(`wrote ${output}`);
} finally {
  await browser.close();
  server.close();
}
