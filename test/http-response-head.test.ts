/**
 * What a hostile or careless script can put in its response head, over real HTTP against a real
 * php.wasm worker: header names that are object slots in JavaScript, names and values HTTP cannot
 * carry, and Fiber (which php.wasm's builds cannot run). None may crash or replace the worker.
 */
import t from 'tap';
import { startTestServer, type TestServer } from './helpers/server.js';
import { FIBER_START_MESSAGE } from '../server/sandbox/fiber-start-fatal.js';

let server: TestServer;
t.before(async () => {
  // 8.5 named, not the default: the Fiber tests below are about the PHP without disable_classes.
  server = await startTestServer({ workers: 1, php: '8.5' });
});
t.teardown(() => server?.close());

async function hostile(name: string, value = 'x'): Promise<{ status: number; headers: Headers; pid: number }> {
  const response = await fetch(`${server.url}/hostile-header.php?n=${encodeURIComponent(name)}&v=${encodeURIComponent(value)}`);
  const text = await response.text();
  let pid = -1;
  try {
    pid = (JSON.parse(text) as { pid: number }).pid;
  } catch {
    // not PHP's answer: pid stays -1 and the status assertion says what came back
  }
  return { status: response.status, headers: response.headers, pid };
}

t.test('__proto__ and constructor headers neither crash the worker nor reach the client as object slots', async (t) => {
  const first = await hostile('X-Test');
  t.equal(first.status, 200);
  for (const name of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
    const answer = await hostile(name);
    t.equal(answer.status, 200, `${name}: a normal response`);
    t.equal(answer.pid, first.pid, `${name}: the same worker answered (not replaced)`);
    t.equal(answer.headers.get('x-after'), 'ok', `${name}: the other headers survive`);
  }
  t.equal((await hostile('constructor', 'c')).headers.get('constructor'), 'c', 'constructor is an ordinary header name');
  t.notOk(server.logs.some((l) => /replacing/.test(String(l.msg))), 'no worker was replaced');
});

t.test('a header HTTP cannot carry is dropped with a warning; the response is kept', async (t) => {
  for (const [name, value] of [['X-Bad', 'a\x7fb'], ['X-Bad', 'a\x01b'], ['Bad Name', 'v'], ['Bad:Name', 'v'], ['Bäd', 'v']]) {
    const before = server.logs.length;
    const answer = await hostile(name, value);
    t.equal(answer.status, 200, `${JSON.stringify(name)}: ${JSON.stringify(value)} still gets its response`);
    t.equal(answer.headers.get('x-after'), 'ok', 'the valid headers are kept');
    t.equal(answer.headers.get('x-bad'), null, 'the bad one is not sent');
    t.ok(server.logs.slice(before).some((l) => l.msg === 'php sent headers HTTP cannot carry; dropped'), 'a warning names it');
  }
});

t.test('non-ASCII header values go out as the bytes PHP sent', async (t) => {
  const answer = await hostile('X-Name', 'Grüße');
  // fetch reads header bytes as Latin-1: the UTF-8 bytes of "Grüße" appear one character each.
  t.equal(Buffer.from(answer.headers.get('x-name') ?? '', 'latin1').toString('utf8'), 'Grüße');
});

t.test('PHP 8.5 (no disable_classes): Fiber::start() throws an Exception the script catches, not a dead worker', async (t) => {
  const before = await (await fetch(`${server.url}/pid.php`)).json() as { pid: number };
  const response = await fetch(`${server.url}/fiber.php`);
  t.equal(response.status, 200);
  const answer = await response.json() as { pid: number; outcome: string; message: string };
  t.equal(answer.outcome, 'Exception', 'the script caught an Exception');
  t.match(answer.message, /stack size is too small/, "PHP's own refusal, before any stack is allocated");
  t.equal(answer.pid, before.pid, 'the same worker answered');
});

t.test('PHP 8.5, fiber.stack_size raised by the script: Fiber::start() is a fatal error with its message, not a dead worker', async (t) => {
  const before = await (await fetch(`${server.url}/pid.php`)).json() as { pid: number };
  const response = await fetch(`${server.url}/fiber.php?stack=256K`);
  t.equal(response.status, 500);
  t.notMatch(await response.text(), /getcontext/, 'the error is not shown to the visitor (display_errors=Off)');
  t.ok(server.logs.some((l) => /Fatal error/.test(JSON.stringify(l)) && JSON.stringify(l).includes(FIBER_START_MESSAGE)), 'the fatal error is logged');
  t.notOk(server.logs.some((l) => /crashed/.test(String(l.msg))), 'no worker crashed');
  const after = await (await fetch(`${server.url}/pid.php`)).json() as { pid: number };
  t.equal(after.pid, before.pid, 'the same worker still serves');
});

t.test('PHP 8.4: new Fiber() is an Error the script catches (disable_classes), not a dead worker', async (t) => {
  const older = await startTestServer({ workers: 1, php: '8.4' });
  t.teardown(() => older.close());
  const before = await (await fetch(`${older.url}/pid.php`)).json() as { pid: number };
  const response = await fetch(`${older.url}/fiber.php`);
  t.equal(response.status, 200);
  const answer = await response.json() as { pid: number; outcome: string };
  t.equal(answer.outcome, 'Error', 'the script caught an Error');
  t.equal(answer.pid, before.pid, 'the same worker answered');
  const after = await (await fetch(`${older.url}/pid.php`)).json() as { pid: number };
  t.equal(after.pid, before.pid, 'the same worker still serves');
});
