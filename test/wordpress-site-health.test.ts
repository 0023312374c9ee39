/**
 * Site Health → Status on a fresh default site with one worker, as its owner sees it: in a real
 * browser, whose script runs the asynchronous tests through WordPress's REST endpoints (the loopback,
 * REST and page-cache tests make WordPress call itself, on a self-call worker). No critical item but
 * "Could not reach WordPress.org", which an offline machine (CI) rightly gets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Browser } from 'playwright-core';
import { chromiumAvailable, CHROMIUM_PATH, launchChromium } from './helpers/chromium.js';
import { tempDir } from './helpers/server.js';
import { phpErrors, startTestWordPress } from './helpers/wordpress.js';
import { freePort } from './helpers/ports.js';

const ADMIN = { siteTitle: 'Site Health Test', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'admin@example.com' };

t.setTimeout(240_000);

if (!chromiumAvailable()) {
  t.fail(`Chromium not found at ${CHROMIUM_PATH} (Debian package "chromium", installed by .ci/run)`);
} else {
  t.test('a fresh site with one worker: no critical Site Health item (offline: only WordPress.org unreachable)', async (t) => {
    const port = await freePort();
    const server = await startTestWordPress(tempDir(t, 'pws-health-'), { ...ADMIN, workers: 1, port, siteUrl: `http://127.0.0.1:${port}`, wordpressOrg: true });
    t.teardown(() => server.close());
    // The page-cache check also judges the machine's speed (critical past a 600 ms median), which on a
    // loaded test machine says nothing about the server: the test site allows 10 s. That the check
    // could time the site at all (three requests to itself) is what is tested.
    mkdirSync(join(server.config.dir, 'wp-content', 'mu-plugins'), { recursive: true });
    writeFileSync(join(server.config.dir, 'wp-content', 'mu-plugins', 'slow-test-machine.php'), "<?php\nadd_filter('site_status_good_response_time_threshold', static fn () => 10000);\n");
    let browser: Browser | undefined;
    t.teardown(async () => { await browser?.close().catch(() => {}); });
    browser = await launchChromium();
    const context = await browser.newContext();
    context.setDefaultTimeout(120_000);
    const page = await context.newPage();

    await page.goto(`http://127.0.0.1:${server.port}/wp-login.php`);
    await page.locator('#user_login').fill(ADMIN.adminUser);
    await page.locator('#user_pass').fill(ADMIN.adminPassword);
    await Promise.all([page.waitForURL(/wp-admin/), page.locator('#wp-submit').click()]);
    await page.goto(`http://127.0.0.1:${server.port}/wp-admin/site-health.php`);
    // The page's script runs the asynchronous tests one after another, then drops its "loading" state.
    await page.locator('.site-health-progress-wrapper:not(.loading)').waitFor();
    const titles = (section: string) => page.locator(`#health-check-site-status-${section} .health-check-accordion-trigger .title`).allInnerTexts();
    const critical = await titles('critical');
    const recommended = await titles('recommended');
    const passed = await page.locator('#health-check-issues-good .health-check-accordion-trigger .title').allInnerTexts();
    t.comment(`critical: ${critical.join(' | ')}\nrecommended: ${recommended.join(' | ')}\npassed: ${passed.join(' | ')}`);

    t.same(critical.filter((title) => title !== 'Could not reach WordPress.org'), [], 'nothing critical but WordPress.org, unreachable offline');
    for (const title of ['Your site can perform loopback requests', 'The REST API is available', 'The Authorization header is working as expected']) {
      t.ok(passed.includes(title), `passed: ${title}`);
    }
    t.ok(recommended.includes('HTTP requests are partially blocked'), 'outgoing HTTP is limited to named hosts, not blocked');
    t.ok([...recommended, ...passed].some((title) => /^Page cache is (not )?detected/.test(title)), 'the page-cache check timed the site');
    t.ok(server.logs.some((l) => l.msg === 'every worker is busy and PHP is calling this server: starting a self-call worker'), 'served through a self-call worker');
    t.same(phpErrors(server.logs).filter((m) => !/WordPress\.org/.test(m)), [], 'no PHP errors but the offline update check');
  });
}
