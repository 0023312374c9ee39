import t, { type Test } from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { projectRoot } from '../server/paths.js';
import { chromiumAvailable, CHROMIUM_PATH, launchChromium, watchContext, type PageProblem, type Watcher } from './helpers/chromium.js';
import { tempDir } from './helpers/server.js';
import { phpErrors, startTestWordPress, type TestWordPress } from './helpers/wordpress.js';
import { freePort } from './helpers/ports.js';

/**
 * A real browser against the real server: headless Chromium logs in to wp-admin, writes and
 * publishes a post in the block editor, and the post's page shows it. No asset may be missing.
 */

const ARTIFACTS = join(projectRoot, 'test-artifacts');
/** The page's `window.wp` (WordPress ships no types): only what page.evaluate calls here. */
type WpWindow = {
  wp: { data: { select(store: 'core/editor'): { getEditedPostAttribute(name: string): unknown; getCurrentPostAttribute(name: string): unknown; getPermalink(): unknown } } };
};
const USER = 'admin';
const PASSWORD = 'browser-pass-123';

t.setTimeout(180_000);

if (!chromiumAvailable()) {
  t.fail(`Chromium not found at ${CHROMIUM_PATH} (Debian package "chromium", installed by .ci/run)`);
} else {
  t.test('a person logs in, writes and publishes a post in the block editor', async (t) => {
    const timings: Record<string, number> = {};
    let mark = performance.now();
    const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const value = await fn();
      const now = performance.now();
      timings[name] = Math.round(now - mark);
      mark = now;
      return value;
    };

    const dataDir = tempDir(t, 'pws-browser-');
    let server: TestWordPress | undefined;
    let browser: Browser | undefined;
    let context: BrowserContext | undefined;
    // Teardowns run in reverse order: browser first, then the server, then (tempDir's) the folder.
    t.teardown(async () => {
      await server?.close();
    });
    t.teardown(async () => {
      await context?.close().catch(() => {});
      await browser?.close().catch(() => {});
    });

    // The site's address is the one the browser uses: this Chromium, offline, refuses "localhost"
    // (the default address of an unattended install), so the site lives at 127.0.0.1 here.
    const port = await freePort();
    server = await step('start WordPress (assemble + unattended install)', () =>
      startTestWordPress(dataDir, { port, siteUrl: `http://127.0.0.1:${port}`, siteTitle: 'Browser Test', adminUser: USER, adminPassword: PASSWORD, adminEmail: 'admin@example.com' }),
    );
    const base = server.url;
    t.comment(`WordPress at ${base}`);

    browser = await step('launch Chromium', () => launchChromium());
    context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    context.setDefaultTimeout(30_000);
    context.setDefaultNavigationTimeout(60_000);
    const watcher = await watchContext(context, base);
    const page = await context.newPage();
    mkdirSync(ARTIFACTS, { recursive: true });

    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const title = `Browser test post ${stamp}`;
    const paragraph = `Written by headless Chromium through php.wasm at ${stamp}, unique ${Math.random().toString(36).slice(2)}.`;

    try {
      // --- Log in through wp-login.php, as a person would.
      await step('log in', async () => {
        await page.goto(`${base}/wp-login.php`);
        // wp-login.php focuses and selects the user field from a 200 ms timer; typing before it fires
        // can land the password in the user field (seen on a loaded machine). Wait for it, as a person would.
        await page.waitForFunction(() => document.activeElement?.id === 'user_login', undefined, { timeout: 10_000 }).catch(() => undefined);
        await page.locator('#user_login').fill(USER);
        await page.locator('#user_pass').fill(PASSWORD);
        await page.locator('#user_login').evaluate((el, user) => { if ((el as HTMLInputElement).value !== user) throw new Error('user field lost its value'); }, USER);
        await Promise.all([page.waitForURL(/\/wp-admin\/?(\?.*)?$/), page.locator('#wp-submit').click()]);
      });
      const dashboardHeading = page.locator('#wpbody-content .wrap h1');
      await dashboardHeading.waitFor();
      t.equal((await dashboardHeading.textContent())?.trim(), 'Dashboard', 'lands on the Dashboard');
      t.ok(await page.locator('#wpadminbar').isVisible(), 'admin bar is shown');

      // --- The block editor.
      const canvas = await step('open the block editor', async () => {
        await page.goto(`${base}/wp-admin/post-new.php`);
        return editorCanvas(page);
      });
      t.comment(`editor canvas: ${canvas.iframe ? 'iframe[name="editor-canvas"]' : 'inline (no iframe)'}`);
      t.comment(`welcome guide: ${(await dismissWelcomeGuide(page)) ? 'shown, closed' : 'not shown'}`);

      await step('write the post', async () => {
        const titleField = canvas.locator('.editor-post-title__input, h1[aria-label="Add title"]').first();
        await titleField.click();
        await page.keyboard.type(title);
        // Enter in the title starts the first paragraph block, as a person would.
        await page.keyboard.press('Enter');
        await page.keyboard.type(paragraph);
        await canvas.locator('p.block-editor-rich-text__editable', { hasText: paragraph }).waitFor();
      });
      const editorShot = join(ARTIFACTS, 'wordpress-editor.png');
      await page.screenshot({ path: editorShot });
      t.comment(`editor screenshot: ${editorShot}`);
      t.equal(await page.evaluate(() => (window as unknown as WpWindow).wp.data.select('core/editor').getEditedPostAttribute('title')), title, 'the editor holds the title');

      // --- Publish: the header button opens the pre-publish panel; its own button publishes.
      const postUrl = await step('publish', async () => {
        await page.locator('.editor-post-publish-panel__toggle, .editor-post-publish-button__button').first().click();
        await page.locator('.editor-post-publish-panel__header-publish-button button').click();
        const viewPost = page.locator('.post-publish-panel__postpublish-buttons a', { hasText: /view post/i }).first();
        const snackbar = page.locator('.components-snackbar', { hasText: /published/i }).first();
        await viewPost.or(snackbar).first().waitFor({ timeout: 60_000 });
        await viewPost.waitFor({ timeout: 10_000 }).catch(() => {});
        const href = (await viewPost.getAttribute('href').catch(() => null))
          ?? (await page.evaluate(() => (window as unknown as WpWindow).wp.data.select('core/editor').getPermalink() as string));
        return href;
      });
      t.ok(postUrl, `post URL: ${postUrl}`);
      t.equal(
        await page.evaluate(() => (window as unknown as WpWindow).wp.data.select('core/editor').getCurrentPostAttribute('status')),
        'publish',
        'the saved post is published',
      );
      t.ok(new URL(postUrl).host === new URL(base).host, 'the post URL is on the server');

      // --- The post's own page shows it.
      await step('open the published post', async () => {
        const response = await page.goto(postUrl);
        t.equal(response?.status(), 200, 'post page is 200');
        await page.locator('body').waitFor();
      });
      const body = (await page.locator('body').innerText()).replace(/\s+/g, ' ');
      t.ok(body.includes(title), 'post page shows the title');
      t.ok(body.includes(paragraph), 'post page shows the paragraph');
      t.ok((await page.locator('h1').filter({ hasText: title }).count()) > 0, 'the title is a heading');
      const postShot = join(ARTIFACTS, 'wordpress-published-post.png');
      await page.screenshot({ path: postShot, fullPage: true });
      t.comment(`published post screenshot: ${postShot}`);
    } catch (error) {
      const failShot = join(ARTIFACTS, 'wordpress-browser-failure.png');
      await page.screenshot({ path: failShot, fullPage: true }).catch(() => {});
      t.comment(`failure at ${page.url()}; screenshot: ${failShot}`);
      report(t, watcher, server);
      throw error;
    }

    t.comment(`timings (ms): ${JSON.stringify(timings)}`);
    t.comment(`${watcher.requests} same-origin requests; ${watcher.offHost.length} off-host requests aborted (offline, expected)`);
    if (watcher.offHost.length) t.comment(`off-host: ${[...new Set(watcher.offHost.map((u) => new URL(u).host))].join(', ')}`);
    const ignored = watcher.problems.length - watcher.sameOrigin().length;
    if (ignored) t.comment(`${ignored} console/network messages about off-host requests ignored (offline, expected)`);

    // --- What the browser saw go wrong. Off-host failures were aborted on purpose (the machine is
    // offline: Gravatar, wordpress.org...) and are left out by sameOrigin().
    const problems = watcher.sameOrigin();
    const missingAssets = problems.filter((p) => (p.kind === 'response' || p.kind === 'requestfailed') && p.asset);
    t.same(missingAssets, [], 'no same-origin static asset failed, answered >= 400 or came back as HTML');
    const serverErrors = problems.filter((p) => p.kind === 'response' && (p.status ?? 0) >= 500);
    t.same(serverErrors, [], 'no same-origin request answered 5xx');
    t.same(problems.filter((p) => p.kind === 'pageerror'), [], 'no uncaught errors in the pages');
    t.same(problems.filter((p) => p.kind === 'console'), [], 'no console errors (but for off-host requests)');
    const otherHttp = problems.filter((p) => p.kind === 'response' && !missingAssets.includes(p) && !serverErrors.includes(p));
    if (otherHttp.length) t.comment(`other >= 400 responses: ${JSON.stringify(otherHttp)}`);
    t.same(otherHttp, [], 'no other same-origin request failed');

    const php = phpErrors(server.logs);
    t.same(php.filter((m) => /PHP (Fatal|Parse)/.test(m)), [], 'no PHP fatal errors in the server log');
    if (php.length) t.comment(`PHP warnings in the server log:\n${php.join('\n')}`);
  });
}

interface Canvas {
  iframe: boolean;
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
}

/** The editor content: in an iframe named "editor-canvas" (WP 6.5 with v3 blocks) or in the page. */
async function editorCanvas(page: Page): Promise<Canvas> {
  const iframe = page.locator('iframe[name="editor-canvas"]');
  const inline = page.locator('.editor-post-title__input');
  await iframe.or(inline).first().waitFor({ timeout: 60_000 });
  if (await iframe.count()) {
    const frame = page.frameLocator('iframe[name="editor-canvas"]');
    await frame.locator('.editor-post-title__input, h1[aria-label="Add title"]').first().waitFor({ timeout: 60_000 });
    return { iframe: true, locator: (selector, options) => frame.locator(selector, options) };
  }
  return { iframe: false, locator: (selector, options) => page.locator(selector, options) };
}

/** A new user first sees "Welcome to the block editor": close it if it shows up. */
async function dismissWelcomeGuide(page: Page): Promise<boolean> {
  const guide = page.locator('.edit-post-welcome-guide, .components-guide').first();
  try {
    await guide.waitFor({ state: 'visible', timeout: 8_000 });
  } catch {
    return false; // no guide (already dismissed for this user)
  }
  await guide.getByRole('button', { name: 'Close' }).click();
  await guide.waitFor({ state: 'hidden' });
  return true;
}

function report(t: Test, watcher: Watcher, server: TestWordPress | undefined): void {
  const lines = (list: PageProblem[]) => list.map((p) => `  [${p.kind}] ${p.url ?? ''} ${p.text} (on ${p.page})`).join('\n');
  t.comment(`browser problems:\n${lines(watcher.problems)}`);
  if (server) {
    const serverLines = server.logs.filter((e) => typeof e.level === 'number' && e.level >= 40 || typeof e.php === 'string');
    t.comment(`server warnings/errors:\n${serverLines.map((e) => JSON.stringify(e)).join('\n')}`);
  }
}
