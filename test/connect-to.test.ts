import t from 'tap';
import { connectTarget, parseHostPort } from '../server/sandbox/connect-to.js';
import { validateSettings } from '../server/config/validate.js';
import { loadConfig } from '../server/config/load.js';

t.test('host:port parsing', async (t) => {
  t.same(parseHostPort('API.WordPress.org:443'), { host: 'api.wordpress.org', port: 443 });
  t.same(parseHostPort('[::1]:8443'), { host: '::1', port: 8443 });
  t.same(parseHostPort('127.0.0.1:1'), { host: '127.0.0.1', port: 1 });
  for (const bad of ['example.com', 'example.com:0', 'example.com:70000', ':443', '::1:443', 'a b:1', 'x:443:1', '']) t.equal(parseHostPort(bad), null, JSON.stringify(bad));
});

t.test('the target for a destination: by name and port, case-insensitively', async (t) => {
  const map = { 'api.wordpress.org:443': '127.0.0.1:9443', '[2001:db8::1]:80': '[::1]:8080' };
  t.same(connectTarget('API.wordpress.org', 443, map), { host: '127.0.0.1', port: 9443 });
  t.same(connectTarget('[2001:db8::1]', 80, map), { host: '::1', port: 8080 });
  t.equal(connectTarget('api.wordpress.org', 80, map), null, 'another port is not mapped');
  t.equal(connectTarget('wordpress.org', 443, map), null);
});

t.test('a malformed --connect-to is a configuration error', async (t) => {
  const load = (value: string) => loadConfig({ argv: ['--connect-to', value], env: {}, cwd: process.cwd() }).config;
  for (const bad of ['api.wordpress.org=127.0.0.1:1', 'api.wordpress.org:443=127.0.0.1']) {
    t.throws(() => validateSettings(load(bad), {}), { key: 'connectTo', message: /NAME:PORT=HOST:PORT/ }, bad);
  }
  t.doesNotThrow(() => validateSettings(load('api.wordpress.org:443=127.0.0.1:9443'), {}));
});
