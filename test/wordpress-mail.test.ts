import t from 'tap';
import { tempDir } from './helpers/server.js';
import { phpErrors, startTestWordPress } from './helpers/wordpress.js';
import { startSmtpSink } from './helpers/smtp-sink.js';
import { freePort } from './helpers/ports.js';
import { CookieClient } from './helpers/browser-like-client.js';
import { until } from './helpers/until.js';

/**
 * wp_mail() as the unattended install leaves a site (address http://localhost:PORT), over HTTP:
 * the password-reset form must send, and a relay that is down must be visible in the log.
 */

const ADMIN = { siteTitle: 'Localhost Mail', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'owner@example.com' };

async function requestReset(baseUrl: string): Promise<{ status: number; location: string | null; body: string }> {
  const client = new CookieClient(baseUrl);
  const response = await client.postForm('/wp-login.php?action=lostpassword', { user_login: ADMIN.adminUser, redirect_to: '', 'wp-submit': 'Get New Password' });
  return { status: response.status, location: response.headers.get('location'), body: await response.text() };
}

t.test('a site at http://localhost:PORT sends its mail (wordpress@localhost is no address WordPress accepts)', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  const server = await startTestWordPress(tempDir(t, 'pws-mail-local-'), { smtp: `smtp://127.0.0.1:${sink.port}`, ...ADMIN });
  t.teardown(() => server.close());
  const reset = await requestReset(server.url);
  t.match(reset, { status: 302, location: /checkemail=confirm/ }, 'WordPress says the mail went out');
  await until('the reset mail arrived', () => sink.received.some((m) => /Password Reset/.test(m.raw)));
  const mail = sink.received.find((m) => /Password Reset/.test(m.raw))!;
  t.match(mail.raw, /^From: WordPress <wordpress@localhost\.localdomain>\r$/m);
  t.same(mail.to, ['owner@example.com']);
  t.same(phpErrors(server.logs), []);
});

t.test('with the relay down, the form says the mail could not be sent and the log says why', async (t) => {
  const server = await startTestWordPress(tempDir(t, 'pws-mail-down-'), { smtp: `smtp://127.0.0.1:${await freePort()}`, ...ADMIN });
  t.teardown(() => server.close());
  const reset = await requestReset(server.url);
  t.equal(reset.status, 200);
  t.match(reset.body, /The email could not be sent/);
  t.ok(server.logs.some((line) => /relay refused it or could not be reached/.test(String(line.msg))), "the server's relay logged the failure");
  t.ok(server.logs.some((line) => /WordPress could not send mail to owner@example\.com/.test(JSON.stringify(line))), "and WordPress's failure is in the log too");
});
