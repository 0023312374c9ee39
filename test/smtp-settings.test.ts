import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { smtpTransportSettings } from '../server/mail/smtp-settings.js';
import { tempDir } from './helpers/server.js';

t.test('smtp:// and smtps:// with their usual ports; STARTTLS can be required for smtp:// only', async (t) => {
  t.match(smtpTransportSettings('smtp://mail.example.com', false, {}), { host: 'mail.example.com', port: 587, secure: false, requireTLS: false, display: 'smtp://mail.example.com' });
  t.match(smtpTransportSettings('smtps://mail.example.com', true, {}), { port: 465, secure: true, requireTLS: false });
  t.match(smtpTransportSettings('smtp://[::1]:2525', true, {}), { host: '::1', port: 2525, requireTLS: true });
  t.notOk('auth' in smtpTransportSettings('smtp://127.0.0.1:25', false, {}));
});

t.test('the password comes from the environment or a file, never from the URL', async (t) => {
  const inUrl = () => smtpTransportSettings('smtp://user:hunter2@mail.example.com', false, {});
  t.throws(inUrl, /invalid smtp/);
  t.throws(inUrl, /PHP_WASM_SERVER_SMTP_PASSWORD/);
  try { inUrl(); } catch (error) { t.notMatch((error as Error).message, /hunter2/, 'the refusal does not repeat the password'); }

  t.same(smtpTransportSettings('smtp://me%40corp@mail.example.com', false, { PHP_WASM_SERVER_SMTP_PASSWORD: 's3cret' }).auth, { user: 'me@corp', pass: 's3cret' });
  const file = join(tempDir(t), 'password');
  writeFileSync(file, 'from-file\n');
  t.same(smtpTransportSettings('smtp://me@mail.example.com', false, { PHP_WASM_SERVER_SMTP_PASSWORD_FILE: file }).auth, { user: 'me', pass: 'from-file' }, "the file's final newline is not part of it");
  t.notMatch(smtpTransportSettings('smtp://me@mail.example.com', false, { PHP_WASM_SERVER_SMTP_PASSWORD: 'x' }).display, /x@|:x/);

  t.throws(() => smtpTransportSettings('smtp://me@mail.example.com', false, {}), /names user me/);
  t.throws(() => smtpTransportSettings('smtp://mail.example.com', false, { PHP_WASM_SERVER_SMTP_PASSWORD: 'x' }), /must name a user/);
  t.throws(() => smtpTransportSettings('smtp://me@mail.example.com', false, { PHP_WASM_SERVER_SMTP_PASSWORD: 'x', PHP_WASM_SERVER_SMTP_PASSWORD_FILE: file }), /not both/);
  t.throws(() => smtpTransportSettings('smtp://me@mail.example.com', false, { PHP_WASM_SERVER_SMTP_PASSWORD_FILE: join(file, 'missing') }), /must be readable/);
});

t.test('anything else is a clear config error', async (t) => {
  for (const url of ['mail.example.com', 'http://mail.example.com', 'smtp://mail.example.com/path', 'smtp://mail.example.com?x=1', 'smtp://']) {
    t.throws(() => smtpTransportSettings(url, false, {}), /invalid smtp .*must/, url);
  }
});
