import t from 'tap';
import type { Browser, BrowserContext } from 'playwright-core';
import { chromiumAvailable, CHROMIUM_PATH, launchChromium } from './helpers/chromium.js';
import { tempDir } from './helpers/server.js';
import { logIn, phpErrors, startTestWordPress, type TestWordPress } from './helpers/wordpress.js';
import { freePort } from './helpers/ports.js';
import { startSmtpSink } from './helpers/smtp-sink.js';
import { until } from './helpers/until.js';

/**
 * WordPress's own mail, as an owner meets it: a forgotten password is reset from the link in the
 * mail, in a real browser; the mail travels wp_mail() → PHPMailer → mail() → the sandbox's sendmail
 * → the server's SMTP relay → a real SMTP server on 127.0.0.1.
 */

const USER = 'admin';
const OLD_PASSWORD = 'old-password-123';
// Strong by WordPress's meter, so the form asks for no "use weak password" confirmation.
const NEW_PASSWORD = 'Reset-By-Mail-7#vQ2-kL9!wZ';

t.setTimeout(180_000);

if (!chromiumAvailable()) {
  t.fail(`Chromium not found at ${CHROMIUM_PATH} (Debian package "chromium", installed by .ci/run)`);
} else {
  t.test('a person resets a forgotten password from the link WordPress mails', async (t) => {
    const sink = await startSmtpSink();
    const dataDir = tempDir(t, 'pws-mail-');
    let server: TestWordPress | undefined;
    let browser: Browser | undefined;
    let context: BrowserContext | undefined;
    t.teardown(async () => {
      await server?.close();
      await sink.close();
    });
    t.teardown(async () => {
      await context?.close().catch(() => {});
      await browser?.close().catch(() => {});
    });

    const port = await freePort();
    server = await startTestWordPress(dataDir, {
      port, siteUrl: `http://127.0.0.1:${port}`, smtp: `smtp://127.0.0.1:${sink.port}`,
      siteTitle: 'Mail Test', adminUser: USER, adminPassword: OLD_PASSWORD, adminEmail: 'owner@example.com',
    });
    const base = server.url;
    browser = await launchChromium();
    context = await browser.newContext();
    context.setDefaultTimeout(30_000);
    context.setDefaultNavigationTimeout(60_000);
    const page = await context.newPage();

    await page.goto(`${base}/wp-login.php?action=lostpassword`);
    await page.locator('#user_login').fill(USER);
    await Promise.all([page.waitForURL(/checkemail=confirm/), page.locator('#wp-submit').click()]);
    const isReset = (raw: string) => /^Subject: \[Mail Test\] Password Reset/m.test(raw);
    await until('the reset mail reached the SMTP server', () => sink.received.some((m) => isReset(m.raw)));

    t.match(sink.received[0], { to: ['owner@example.com'], raw: /^Subject: New WordPress Site/m }, "the installer's mail went out too");
    const mail = sink.received.find((m) => isReset(m.raw))!;
    t.same(mail.to, ['owner@example.com'], "sent to the administrator's address");
    const link = new RegExp(`^${base}/wp-login\\.php\\?action=rp&key=\\w+&login=admin\\S*$`, 'm').exec(mail.raw)?.[0];
    t.ok(link, 'the mail holds the reset link');

    await page.goto(link!);
    // user-profile.js fills #pass1 with a generated password once it runs; typing before that is overwritten.
    await page.waitForFunction(() => (document.querySelector('#pass1') as HTMLInputElement | null)?.value !== '', undefined, { timeout: 30_000 });
    await page.locator('#pass1').fill(NEW_PASSWORD);
    await page.locator('#wp-submit').click();
    await page.getByText('Your password has been reset.').waitFor();

    // Logging in is checked over HTTP: the browser's part, the mail and the reset form, is done.
    await t.resolves(logIn(base, USER, NEW_PASSWORD), 'the new password logs in');
    await t.rejects(logIn(base, USER, OLD_PASSWORD), 'the old one no longer does');
    t.same(phpErrors(server.logs), [], 'no PHP warnings or errors');
  });
}
