// The reading aids work in the browser: search, previews, the colour scheme and its memory,
// keyboard shortcuts, copy buttons and the phone sidebar.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, startSiteAndBrowser } from './helpers.mjs';

let site;
before(async () => { site = await startSiteAndBrowser(); });
after(async () => { await site.close(); });

async function fresh(path, options = {}) {
  const context = await site.browser.newContext(options);
  const opened = await openPage(context, site.url, path);
  return { context, ...opened };
}

test('search finds a phrase of the introduction and links to its section', async () => {
  const { context, page, problems } = await fresh('/');
  await page.click('#search-button');
  const input = page.locator('#search-box input');
  await input.waitFor();
  await input.fill('energy-based models');
  const result = page.locator('.pagefind-ui__result-link[href*="#introduction"]').first();
  await result.waitFor({ timeout: 10000 });
  assert.match(await result.getAttribute('href'), /#introduction$/);
  await context.close();
  assert.deepEqual(problems, []);
});

test('a citation shows its full reference on hover', async () => {
  const { context, page } = await fresh('/');
  await page.hover('a.citation[href="#kingma2014aevb"]');
  const preview = page.locator('#preview');
  await preview.waitFor({ state: 'visible' });
  assert.match(await preview.innerText(), /Auto-Encoding Variational Bayes/);
  await page.mouse.move(0, 0);
  await preview.waitFor({ state: 'hidden' });
  await context.close();
});

test('a citation shows its reference on the first tap and follows on the second', async () => {
  const { context, page } = await fresh('/', { hasTouch: true, isMobile: true, viewport: { width: 390, height: 800 } });
  const link = page.locator('a.citation[href="#kingma2014aevb"]').first();
  await link.tap();
  await page.locator('#preview').waitFor({ state: 'visible' });
  assert.equal(new URL(page.url()).hash, '');
  await link.tap();
  await page.waitForFunction(() => location.hash === '#kingma2014aevb');
  await context.close();
});

test('dark mode follows the system setting, and the toggle is remembered', async () => {
  const { context, page } = await fresh('/', { colorScheme: 'dark' });
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(await background(), 'rgb(23, 24, 27)');
  await page.click('#theme-button');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
  assert.equal(await background(), 'rgb(253, 253, 251)');
  await page.reload();
  assert.equal(await background(), 'rgb(253, 253, 251)', 'the choice survives a reload');
  await context.close();
});

test('keys n and p move between chapters', async () => {
  const { context, page } = await fresh('/chapters/01-background.html');
  await page.keyboard.press('n');
  await page.waitForURL(/02-variational-inference\.html$/);
  await page.keyboard.press('p');
  await page.waitForURL(/01-background\.html$/);
  await context.close();
});

test('an equation reference shows its equation on hover', async () => {
  const { context, page } = await fresh('/chapters/01-background.html');
  const reference = page.locator('mjx-container a[href^="#eq-"]').first();
  assert.ok(await reference.count(), 'chapter 1 refers to one of its equations');
  await reference.hover();
  const preview = page.locator('#preview');
  await preview.waitFor({ state: 'visible' });
  assert.ok(await preview.locator('svg').count(), 'the preview shows the typeset equation');
  await context.close();
});

test("a reference to another chapter's equation shows it, carries its number and lands on it", async () => {
  const { context, page } = await fresh('/chapters/07-evaluation.html');
  const reference = page.locator('a.eqref-xref[data-label="eq:2-elbo-gap"]').first();
  assert.ok(await reference.count(), 'chapter 7 refers to the gap identity of chapter 2');
  const href = await reference.getAttribute('href');
  assert.match(href, /^\/chapters\/02-variational-inference\.html#eq-2-elbo-gap$/);
  const number = (await reference.textContent()).trim();
  await reference.hover();
  const preview = page.locator('#preview');
  await preview.waitFor({ state: 'visible' });
  // The preview's glyphs are copies of chapter 2's paths, not references into a font cache
  // that this page may lack.
  assert.ok(await preview.locator('svg path').count() > 10, 'the preview draws the equation');
  assert.equal(await preview.locator('svg use').count(), 0, 'the preview needs no glyph of this page');
  assert.ok((await preview.textContent()).includes(number.replace(/[()]/g, '')), `the preview shows ${number}`);
  await reference.click();
  await page.waitForURL(/02-variational-inference\.html#eq-2-elbo-gap$/);
  await page.waitForTimeout(300);
  const target = page.locator('[id="eq-2-elbo-gap"]');
  const box = await target.boundingBox();
  const height = page.viewportSize().height;
  assert.ok(box && box.y >= -5 && box.y < height, `the equation is on the screen (y = ${box && box.y})`);
  const shownNumber = await target.locator('xpath=ancestor::mjx-container').first().textContent();
  assert.ok(shownNumber.includes(number.replace(/[()]/g, '')), `chapter 2 numbers it ${number}`);
  await context.close();
});

test('code blocks get a copy button', async () => {
  const { context, page } = await fresh('/chapters/04-autoencoders.html');
  const buttons = await page.locator('div.highlighter-rouge .copy-button').count();
  await context.close();
  assert.ok(buttons > 0);
});

test('the phone sidebar opens from its button', async () => {
  const { context, page } = await fresh('/chapters/02-variational-inference.html', { viewport: { width: 375, height: 740 }, isMobile: true });
  const chapters = page.locator('.sidebar-chapters');
  assert.equal(await chapters.isVisible(), false);
  await page.click('.sidebar-toggle');
  assert.equal(await chapters.isVisible(), true);
  await context.close();
});

test("a link to another chapter's section shows that section's title", async () => {
  const { context, page } = await fresh('/chapters/07-evaluation.html');
  const link = page.locator('.page-body a[href^="02-variational-inference.html#elbo-gap"]').first();
  assert.ok(await link.count(), 'chapter 7 links to the ELBO-gap section of chapter 2');
  await link.scrollIntoViewIfNeeded();
  await link.hover();
  const preview = page.locator('#preview');
  await preview.waitFor({ state: 'visible' });
  const title = await preview.innerText();
  await context.close();
  assert.match(title, /^Chapter 2: /, `the preview names the chapter: ${title}`);
  assert.ok(title.length > 'Chapter 2: '.length + 3, `the preview names the section: ${title}`);
});

test('the outline marks the section being read', async () => {
  const { context, page } = await fresh('/chapters/02-variational-inference.html', { viewport: { width: 1400, height: 900 } });
  const ids = await page.locator('.outline a').evaluateAll((links) => links.map((a) => a.getAttribute('href').slice(1)));
  assert.ok(ids.length >= 4, 'the outline lists the sections');
  const target = ids[3];
  await page.evaluate((id) => document.getElementById(id).scrollIntoView({ block: 'start' }), target);
  await page.waitForFunction((id) => {
    const current = document.querySelector('.outline a[aria-current="location"]');
    return current && current.getAttribute('href') === `#${id}`;
  }, target, { timeout: 5000 });
  const marked = await page.locator('.outline a[aria-current="location"]').count();
  await context.close();
  assert.equal(marked, 1, 'exactly one outline entry is current');
});
