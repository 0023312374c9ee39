import t from 'tap';
import { readSendmailMessage } from '../server/mail/sendmail-message.js';

const PHP_ARGS = ['-t', '-i'];
const message = (text: string) => Buffer.from(text, 'latin1');

t.test("recipients come from To, Cc and Bcc (sendmail -t); Bcc leaves the message, folded lines included", async (t) => {
  const mail = readSendmailMessage(PHP_ARGS, message(
    'To: Ann <ann@example.com>, bob@example.com\r\nSubject: Hi\r\nFrom: Site <site@example.org>\r\n'
    + 'Cc: carol@example.com\r\nBcc: dave@example.com,\r\n\teve@example.com\r\nX-Mailer: test\r\n\r\nBody\r\nBcc: not a header\r\n'));
  t.same(mail.envelope, { from: 'site@example.org', to: ['ann@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com', 'eve@example.com'] });
  const raw = mail.raw.toString('latin1');
  t.notMatch(raw, /dave|eve@/, 'no Bcc address is left in the message');
  t.match(raw, /^To: Ann <ann@example\.com>, bob@example\.com\r\nSubject: Hi\r\nFrom: Site <site@example\.org>\r\nCc: carol@example\.com\r\nX-Mailer: test\r\n\r\nBody\r\nBcc: not a header\r\n$/, 'the rest is kept byte for byte, the body too');
  t.equal(mail.subject, 'Hi');
});

t.test('the envelope sender: -f (as PHPMailer passes it) before Return-Path, Sender and From', async (t) => {
  const text = message('To: a@example.com\nFrom: from@example.com\nSender: sender@example.com\n\nx');
  t.equal(readSendmailMessage([...PHP_ARGS, '-fbounce@example.com'], text).envelope.from, 'bounce@example.com');
  t.equal(readSendmailMessage([...PHP_ARGS, '-f', 'bounce2@example.com'], text).envelope.from, 'bounce2@example.com');
  t.equal(readSendmailMessage(PHP_ARGS, text).envelope.from, 'sender@example.com');
  t.equal(readSendmailMessage(PHP_ARGS, message('To: a@example.com\nFrom: "Name, with comma" <f@example.com>\n\nx')).envelope.from, 'f@example.com');
});

t.test('without -t, recipients are the arguments; duplicates count once', async (t) => {
  const mail = readSendmailMessage(['-i', 'x@example.com', 'X@example.com', '--', 'y@example.com'], message('To: ignored@example.com\nFrom: f@example.com\n\nx'));
  t.same(mail.envelope.to, ['x@example.com', 'y@example.com']);
});

t.test('a message with nobody to send to, or nobody it is from, is refused', async (t) => {
  t.throws(() => readSendmailMessage(PHP_ARGS, message('Subject: x\nFrom: f@example.com\n\nbody')), /no recipients/);
  t.throws(() => readSendmailMessage(PHP_ARGS, message('To: not an address\nFrom: f@example.com\n\nbody')), /no recipients/);
  t.throws(() => readSendmailMessage(PHP_ARGS, message('To: a@example.com\n\nbody')), /no sender/);
});

t.test('header names are case-insensitive; a message without a body still parses', async (t) => {
  const mail = readSendmailMessage(PHP_ARGS, message('TO: a@example.com\r\nfrom: f@example.com\r\nBCC: b@example.com'));
  t.same(mail.envelope, { from: 'f@example.com', to: ['a@example.com', 'b@example.com'] });
  t.equal(mail.raw.toString('latin1'), 'TO: a@example.com\r\nfrom: f@example.com\r\n');
});

t.test('lines end in CRLF, as sendmail sends them (relays may refuse a bare LF); bytes are kept', async (t) => {
  const mail = readSendmailMessage(PHP_ARGS, Buffer.concat([message('To: a@example.com\r\nFrom: f@example.com\n\nline one\nline two\r\n'), Buffer.from('caf\u00e9 \u2713\n', 'utf8')]));
  t.equal(mail.raw.toString('utf8'), 'To: a@example.com\r\nFrom: f@example.com\r\n\r\nline one\r\nline two\r\ncaf\u00e9 \u2713\r\n');
});
