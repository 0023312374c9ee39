/**
 * PHP's mail() through the sandbox's "sendmail" to a real SMTP server on 127.0.0.1 (smtp-server),
 * with real php.wasm workers and real HTTP.
 */
import t, { type Test } from 'tap';
import { FIXTURE_DOCROOT, startTestServer, type TestServer } from './helpers/server.js';
import { runCli } from './helpers/cli.js';
import { startSmtpSink, type SmtpSink } from './helpers/smtp-sink.js';
import { freePort } from './helpers/ports.js';

async function sendMail(server: TestServer, query: Record<string, string>): Promise<boolean> {
  const response = await fetch(`${server.url}/mail.php?${new URLSearchParams(query)}`);
  if (response.status !== 200) throw new Error(`mail.php answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { sent: boolean }).sent;
}

const logged = (server: TestServer, message: RegExp) => server.logs.filter((line) => typeof line.msg === 'string' && message.test(line.msg));

async function sinkFor(t: Test): Promise<SmtpSink> {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  return sink;
}

async function serverFor(t: Test, overrides: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const server = await startTestServer({ workers: 1, ...overrides });
  t.teardown(() => server.close());
  return server;
}

t.test('without --smtp, mail() returns false and the log names the recipient and subject', async (t) => {
  const server = await serverFor(t, {});
  t.equal(await sendMail(server, { to: 'ann@example.com', subject: 'Order 42' }), false);
  const [warning] = logged(server, /no SMTP relay is configured/);
  t.match(warning, { level: 40, to: ['ann@example.com'], subject: 'Order 42' });
});

t.test('with --smtp, mail() delivers through the relay: envelope as sendmail -t makes it, Bcc hidden, body intact', async (t) => {
  const sink = await sinkFor(t);
  const server = await serverFor(t, { smtp: `smtp://127.0.0.1:${sink.port}` });
  t.equal(await sendMail(server, {
    to: 'Ann <ann@example.com>',
    subject: 'Welcome',
    headers: 'From: Site <site@example.org>\r\nCc: carol@example.com\r\nBcc: hidden@example.com',
    params: '-fbounce@example.org',
  }), true);
  t.equal(sink.received.length, 1);
  const [mail] = sink.received;
  t.equal(mail.from, 'bounce@example.org', "MAIL FROM is mail()'s -f");
  t.same(mail.to.sort(), ['ann@example.com', 'carol@example.com', 'hidden@example.com']);
  t.match(mail.raw, /^To: Ann <ann@example\.com>\r?\nSubject: Welcome\r?\nFrom: Site <site@example\.org>\r?\nCc: carol@example\.com\r?\n\r?\n/);
  t.notMatch(mail.raw, /hidden@/, 'the Bcc recipient is not in the message');
  t.match(mail.raw, /\nA second line\.\r?\n\.\r?\nA line that is only a dot, above\./, 'a line holding a single dot does not end the message early');
  t.match(logged(server, /^mail sent$/)[0], { to: ['ann@example.com', 'carol@example.com', 'hidden@example.com'], subject: 'Welcome', from: 'bounce@example.org' });
});

t.test('--smtp-max-per-hour caps recipients across requests; mail() is false past it', async (t) => {
  const sink = await sinkFor(t);
  const server = await serverFor(t, { smtp: `smtp://127.0.0.1:${sink.port}`, smtpMaxPerHour: 3 });
  t.equal(await sendMail(server, { to: 'a@example.com, b@example.com' }), true);
  t.equal(await sendMail(server, { to: 'c@example.com', headers: 'From: php@example.com\r\nBcc: d@example.com' }), false, 'a Bcc recipient counts too');
  t.equal(await sendMail(server, { to: 'c@example.com' }), true, 'what fits is still sent');
  t.equal(await sendMail(server, { to: 'e@example.com' }), false);
  t.equal(sink.received.length, 2);
  t.equal(logged(server, /--smtp-max-per-hour reached/).length, 2);
});

t.test('a relay that does not offer STARTTLS gets nothing with --smtp-require-tls; a relay that is down fails mail() at once', async (t) => {
  const sink = await sinkFor(t);
  const strict = await serverFor(t, { smtp: `smtp://127.0.0.1:${sink.port}`, smtpRequireTls: true });
  t.equal(await sendMail(strict, { to: 'a@example.com' }), false);
  t.equal(sink.received.length, 0, 'nothing was sent in the clear');
  t.match(logged(strict, /relay refused it or could not be reached/)[0], { level: 50, reason: /STARTTLS/i });

  const down = await serverFor(t, { smtp: `smtp://127.0.0.1:${await freePort()}` });
  t.equal(await sendMail(down, { to: 'a@example.com' }), false);
  t.match(logged(down, /relay refused it or could not be reached/)[0], { reason: /ECONNREFUSED/ });
  t.equal(await sendMail(down, { to: 'a@example.com' }), false, 'the worker goes on serving');
});

t.test('a message over 10 MB is refused without reaching the relay', async (t) => {
  const sink = await sinkFor(t);
  const server = await serverFor(t, { smtp: `smtp://127.0.0.1:${sink.port}` });
  t.equal(await sendMail(server, { size: String(11 * 1024 * 1024) }), false);
  t.equal(sink.received.length, 0);
  t.equal(await sendMail(server, { size: String(64 * 1024) }), true, 'a large but allowed one goes');
  t.equal(sink.received.length, 1);
});

t.test('the relay password comes from the environment only: the command line refuses one', async (t) => {
  const sink = await startSmtpSink({ user: 'wp', password: 'correct horse' });
  t.teardown(() => sink.close());
  const refused = runCli(['--docroot', FIXTURE_DOCROOT, '--port', '0', '--smtp', `smtp://wp:correct%20horse@127.0.0.1:${sink.port}`]);
  t.equal(await refused.exit, 2);
  t.match(refused.stderr(), /invalid smtp .*PHP_WASM_SERVER_SMTP_PASSWORD/);
  t.notMatch(refused.stderr(), /correct/, 'the password is not repeated');

  const server = runCli(['--docroot', FIXTURE_DOCROOT, '--port', '0', '--workers', '1', '--smtp', `smtp://wp@127.0.0.1:${sink.port}`], { PHP_WASM_SERVER_SMTP_PASSWORD: 'correct horse' });
  const url = await server.listening;
  const response = await fetch(`${url}/mail.php?to=ann@example.com`);
  t.same(await response.json(), { sent: true });
  t.equal(sink.received[0]?.user, 'wp', 'the relay authenticated the server');
  t.notOk(server.lines.some((line) => JSON.stringify(line).includes('correct horse')), 'the log never shows the password');
  server.child.kill('SIGTERM');
  t.equal(await server.exit, 0);
});
