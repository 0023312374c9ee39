/**
 * php.wasm's outbound network relay (a WebSocket server on 127.0.0.1 per worker), over real HTTP with
 * real workers: no other local process can use it, no frame can end a worker, and a destination the
 * allowlist refuses fails in PHP as a refused connection does.
 */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import t, { type Test } from 'tap';
import { withNetworking } from '@php-wasm/node';
import { restrictNetwork } from '../server/sandbox/network.js';
import { ignoreRelayExit } from '../server/sandbox/relay-exit.js';
import { clientFrame, relayPorts, relayUpgrade } from './helpers/relay-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** A local TCP server that counts connections, keeps what it receives, and answers `reply` to the first bytes. */
async function tcpTarget(t: Test, reply?: string) {
  let connections = 0;
  let received = '';
  let onData = () => {};
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (data) => {
      received += data.toString('latin1');
      onData();
      if (reply !== undefined) socket.end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    /** Resolves once `text` has arrived (on any connection). */
    receives: (text: string) => new Promise<void>((resolve) => {
      onData = () => { if (received.includes(text)) resolve(); };
      onData();
    }),
  };
}

async function php(server: TestServer, path: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const body = await fetch(server.url + path, { signal: AbortSignal.timeout(30_000) }).then((r) => r.text());
  try {
    return JSON.parse(body);
  } catch {
    throw new Error(`${path}: not JSON: ${JSON.stringify(body.slice(0, 300))}`);
  }
}

const bytes = (...parts: Array<number | string>) => Uint8Array.from(parts.flatMap((part) => (typeof part === 'string' ? [...Buffer.from(part)] : [part])));

t.test("another local process cannot use a worker's relay, not even with '*', nor end the worker with a frame", async (t) => {
  const server = await startTestServer({ workers: 1, allowNetwork: ['*'] });
  t.teardown(() => server.close());
  const { pid } = await php(server, '/pid.php');
  const relays = await relayPorts(); // before the target listens: the search knocks at every port
  t.equal(relays.length, 1, 'one worker, one relay found');
  const target = await tcpTarget(t, 'hello from the target\n');

  // What an intruder sends: a destination the allowlist allows, then at once the command that used
  // to call process.exit() in the worker, and some data for the target.
  const intruder = await relayUpgrade(relays[0]!, `/?host=127.0.0.1&port=${target.port}`, [clientFrame(bytes(7)), clientFrame(bytes(1, 'from the intruder'))]);
  intruder.socket.destroy();
  t.equal(intruder.answer, '', 'the relay closes the connection without upgrading it');
  t.equal(target.connections(), 0, 'the target saw no connection');

  t.equal((await php(server, '/pid.php')).pid, pid, 'the same worker serves the next request');
  const viaPhp = await php(server, `/sandbox.php?what=socket&host=127.0.0.1&port=${target.port}`);
  t.match(viaPhp.result, /hello from the target/, "PHP's own connections still pass (its key is in its URL)");
  t.equal(target.connections(), 1);
  t.notOk(server.logs.some((line) => String(line.msg).includes('tried to end the worker')), 'no frame reached the relay');
});

t.test('a frame with a command the relay does not know is dropped: the connection and the process go on', async (t) => {
  const target = await tcpTarget(t);
  // The relay php.wasm starts for each instance, here in this process: its process.exit() is ours.
  const { outboundNetworkProxyServer: relay } = (await withNetworking({})) as unknown as { outboundNetworkProxyServer: HttpServer };
  const key = 'k'.repeat(64);
  restrictNetwork(relay, [`127.0.0.1:${target.port}`], key);
  const exits: unknown[] = [];
  const restoreExit = ignoreRelayExit((code) => exits.push(code));

  const { answer, socket } = await relayUpgrade((relay.address() as AddressInfo).port, `/?host=127.0.0.1&port=${target.port}&key=${key}`, [
    clientFrame(bytes(7)), // the command that called process.exit()
    clientFrame(bytes(9, 1, 2, 3)), // any other unknown command
    clientFrame(bytes()), // no command byte at all
    clientFrame(bytes(1, 'still here')),
  ]);
  t.teardown(() => {
    socket.destroy();
    restoreExit();
    return new Promise<void>((resolve) => relay.close(() => resolve()));
  });
  t.match(answer, /^HTTP\/1\.1 101 /, 'the keyed connection is upgraded');
  await target.receives('still here');
  t.pass('the data frame after them reached the target');
  t.equal(exits.length, 3, 'the relay tried to exit once per unknown frame, and went on each time');
});

t.test('fsockopen() to a destination the allowlist refuses fails as a refused connection; an allowed local server still answers', async (t) => {
  const allowed = await tcpTarget(t, 'hello from the allowed server\n');
  const other = await tcpTarget(t, 'hello from another server\n');
  const server = await startTestServer({ workers: 1, allowNetwork: [`127.0.0.1:${allowed.port}`] });
  t.teardown(() => server.close());

  const connect = (host: string, port: number) => php(server, `/sandbox.php?what=connect&host=${host}&port=${port}`).then((r) => r.result);
  for (const [host, port] of [['127.0.0.1', other.port], ['refused.invalid', 80], ['10.255.255.1', 80]] as const) {
    const refused = await connect(host, port);
    t.equal(refused.connected, false, `${host}:${port}: fsockopen() returns false`);
    t.match(refused.errstr, /connection refused/i, `${host}:${port}: "${refused.errstr}"`);
    t.not(refused.errno, 0, `${host}:${port}: errno ${refused.errno}`);
  }
  t.equal(other.connections(), 0, 'the refused server saw no connection');

  const viaPhp = await php(server, `/sandbox.php?what=socket&host=127.0.0.1&port=${allowed.port}`);
  t.match(viaPhp.result, /hello from the allowed server/, 'fsockopen() to the allowed server delivers its data');
});

t.test('--connect-to sends an allowed name to another address; a name the allowlist refuses stays refused', async (t) => {
  const standIn = await tcpTarget(t, 'hello from the stand-in\n');
  const server = await startTestServer({
    workers: 1,
    allowNetwork: ['service.invalid:80'],
    connectTo: { 'service.invalid:80': `127.0.0.1:${standIn.port}`, 'other.invalid:80': `127.0.0.1:${standIn.port}` },
  });
  t.teardown(() => server.close());
  const viaName = await php(server, '/sandbox.php?what=socket&host=service.invalid&port=80');
  t.match(viaName.result, /hello from the stand-in/, 'PHP reached the stand-in through the allowed name, with no lookup');
  const refused = await php(server, '/sandbox.php?what=connect&host=other.invalid&port=80');
  t.equal(refused.result.connected, false, 'a mapped name outside the allowlist is refused');
  t.equal(standIn.connections(), 1, 'the stand-in saw only the allowed connection');
});
