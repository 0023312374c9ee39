import t from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { isAllowedDestination, restrictNetwork } from '../server/sandbox/network.js';

const allowed = (host: string, port: number, allow: string[]) => isAllowedDestination(host, port, allow);

t.test('an empty allowlist lets nothing through', async (t) => {
  for (const [host, port] of [['example.com', 443], ['127.0.0.1', 80], ['localhost', 8087], ['::1', 22], ['', 0]] as const) {
    t.notOk(allowed(host, port, []), `${host}:${port}`);
  }
});

t.test("'*' allows everything", async (t) => {
  for (const [host, port] of [['example.com', 443], ['127.0.0.1', 22], ['::1', 5432], ['169.254.169.254', 80]] as const) {
    t.ok(allowed(host, port, ['*']), `${host}:${port}`);
  }
  t.ok(allowed('example.com', 443, ['other.example', '*']), "'*' anywhere in the list");
});

t.test('an exact host, any port', async (t) => {
  const allow = ['example.com'];
  t.ok(allowed('example.com', 443, allow));
  t.ok(allowed('example.com', 80, allow));
  t.notOk(allowed('www.example.com', 443, allow), 'not its subdomains');
  t.notOk(allowed('example.com.evil.org', 443, allow));
  t.notOk(allowed('badexample.com', 443, allow));
  t.notOk(allowed('example.co', 443, allow));
  t.notOk(allowed('xexample.com', 443, allow));
  t.notOk(allowed('', 443, allow));
});

t.test('host:port allows that port only', async (t) => {
  const allow = ['api.example.com:443'];
  t.ok(allowed('api.example.com', 443, allow));
  t.notOk(allowed('api.example.com', 80, allow));
  t.notOk(allowed('api.example.com', 4430, allow));
  t.notOk(allowed('api.example.com', 44, allow));
  t.notOk(allowed('example.com', 443, allow));
  t.ok(allowed('api.example.com', 80, ['api.example.com:443', 'api.example.com:80']), 'several entries for one host');
});

t.test("'*.example.com' allows subdomains only", async (t) => {
  const allow = ['*.example.com'];
  t.ok(allowed('sub.example.com', 443, allow));
  t.ok(allowed('a.b.example.com', 80, allow));
  t.notOk(allowed('example.com.evil.org', 443, allow));
  t.notOk(allowed('badexample.com', 443, allow));
  t.notOk(allowed('sub.badexample.com', 443, allow));
  t.notOk(allowed('sub.example.com.evil.org', 443, allow));
  t.notOk(allowed('example.org', 443, allow));
  const withPort = ['*.example.com:8443'];
  t.ok(allowed('sub.example.com', 8443, withPort));
  t.notOk(allowed('sub.example.com', 443, withPort));
});

t.test('names compare case-insensitively, entries are trimmed', async (t) => {
  t.ok(allowed('EXAMPLE.com', 443, ['example.COM']));
  t.ok(allowed('Sub.Example.Com', 443, ['*.EXAMPLE.com']));
  t.ok(allowed('API.example.com', 443, ['Api.Example.Com:443']));
  t.ok(allowed('example.com', 443, [' example.com ']));
});

t.test('IP addresses, v4 and v6', async (t) => {
  t.ok(allowed('127.0.0.1', 8080, ['127.0.0.1']));
  t.notOk(allowed('127.0.0.10', 8080, ['127.0.0.1']));
  t.notOk(allowed('127.0.0.2', 8080, ['127.0.0.1']));
  t.ok(allowed('10.0.0.5', 5432, ['10.0.0.5:5432']));
  t.notOk(allowed('10.0.0.5', 22, ['10.0.0.5:5432']));
  t.ok(allowed('::1', 8080, ['[::1]:8080']));
  t.ok(allowed('[::1]', 8080, ['[::1]:8080']), 'a bracketed destination');
  t.notOk(allowed('::1', 22, ['[::1]:8080']));
  t.ok(allowed('::1', 22, ['[::1]']));
  // A bare IPv6 address has no port; its last group must not be read as one.
  t.ok(allowed('::1', 5432, ['::1']), "bare '::1' allows ::1 on any port");
  t.ok(allowed('2001:db8::1', 443, ['2001:db8::1']));
  t.notOk(allowed('2001:db8::', 1, ['2001:db8::1']));
  t.notOk(allowed(':', 1, ['::1']), "'::1' is not host ':' on port 1");
});

t.test("'*:port' allows any host on that port only", async (t) => {
  t.ok(allowed('example.com', 443, ['*:443']));
  t.ok(allowed('10.1.2.3', 443, ['*:443']));
  t.notOk(allowed('example.com', 80, ['*:443']));
});

t.test('blank entries allow nothing', async (t) => {
  t.notOk(allowed('', 0, ['']));
  t.notOk(allowed('', 80, [':80']));
  t.notOk(allowed('example.com', 80, ['', ' ']));
});

const KEY = 'a'.repeat(64);

/** Hands an upgrade to the relay as its WebSocket clients would, and reports whether the relay saw it. */
function upgrade(allow: string[], path: string, key: string | null = KEY): { reached: string[]; destroyed: boolean } {
  const url = key === null ? path : `${path}${path.includes('?') ? '&' : '?'}key=${key}`;
  const relay = createServer();
  const reached: string[] = [];
  relay.on('upgrade', (req: IncomingMessage) => reached.push(req.url ?? ''));
  restrictNetwork(relay, allow, KEY);
  const socket = new PassThrough();
  relay.emit('upgrade', { url } as IncomingMessage, socket, Buffer.alloc(0));
  return { reached, destroyed: socket.destroyed };
}

t.test('restrictNetwork gates the relay by the same rules', async (t) => {
  const denied = upgrade([], '/?host=example.com&port=443');
  t.same(denied.reached, [], 'nothing reaches the relay with no allowlist');
  t.ok(denied.destroyed, 'the connection is closed');
  const ok = upgrade(['example.com:443'], '/?host=example.com&port=443');
  t.same(ok.reached, [`/?host=example.com&port=443&key=${KEY}`], 'an allowed destination reaches the relay');
  t.notOk(ok.destroyed);
  const wrongPort = upgrade(['example.com:443'], '/?host=example.com&port=22');
  t.same(wrongPort.reached, []);
  t.ok(wrongPort.destroyed);
  const noQuery = upgrade(['example.com'], '/');
  t.same(noQuery.reached, [], 'no destination given: refused');
  const star = upgrade(['*'], '/?host=anything.example&port=1');
  t.same(star.reached, [`/?host=anything.example&port=1&key=${KEY}`]);
});

t.test('only the instance itself can use its relay: without its key nothing passes, even with `*`', async (t) => {
  for (const allow of [['*'], ['example.com']]) {
    const missing = upgrade(allow, '/?host=example.com&port=443', null);
    t.same(missing.reached, [], `no key (${allow})`);
    t.ok(missing.destroyed);
    t.same(upgrade(allow, '/?host=example.com&port=443', 'b'.repeat(64)).reached, [], `wrong key (${allow})`);
    t.same(upgrade(allow, '/?host=example.com&port=443', 'a').reached, [], `a prefix of the key (${allow})`);
  }
});

t.test("'localhost[:port]' matches the loopback address php.wasm resolved it to", async (t) => {
  t.ok(isAllowedDestination('127.0.0.1', 8087, ['localhost:8087']));
  t.ok(isAllowedDestination('::1', 8087, ['localhost:8087']));
  t.ok(isAllowedDestination('localhost', 8087, ['localhost:8087']), 'the name as written too');
  t.ok(isAllowedDestination('127.0.0.1', 9, ['localhost']), 'any port without one');
  t.notOk(isAllowedDestination('127.0.0.1', 8088, ['localhost:8087']), 'only that port');
  t.notOk(isAllowedDestination('127.0.0.2', 8087, ['localhost:8087']), 'only the loopback address localhost is');
  t.notOk(isAllowedDestination('10.0.0.1', 8087, ['localhost:8087']));
});
