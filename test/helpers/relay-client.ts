import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

/**
 * TCP ports this process listens on at 127.0.0.1, read from Linux's socket tables: the relays of
 * the php.wasm workers (threads of this process) are among them, and nothing else reports them.
 */
export function loopbackListenPorts(): number[] {
  const ownSockets = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
      if (inode) ownSockets.add(inode);
    } catch {
      // the descriptor closed while we read the list
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
    const [address, port] = (local ?? '').split(':');
    // 0A is LISTEN; the address is little-endian hex, 0100007F = 127.0.0.1.
    if (state === '0A' && address === '0100007F' && ownSockets.has(inode ?? '')) ports.push(parseInt(port!, 16));
  }
  return ports;
}

/** One WebSocket frame as a client must send it: binary, masked. */
export function clientFrame(payload: Uint8Array): Buffer {
  if (payload.length > 125) throw new Error('short frames only');
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, masked]);
}

/**
 * Asks the relay at `port` for a WebSocket to `path`, with `frames` sent right behind the request
 * (as an intruder would, without waiting). Resolves with what the relay answered first ('' if it
 * closed the connection without a word) and the socket, still open if the relay took it.
 */
export function relayUpgrade(port: number, path: string, frames: Buffer[] = []): Promise<{ answer: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const request = [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Protocol: binary',
      '',
      '',
    ].join('\r\n');
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(request), ...frames])));
    socket.once('data', (data) => resolve({ answer: data.toString('latin1'), socket }));
    socket.once('close', () => resolve({ answer: '', socket }));
    socket.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve({ answer: '', socket }) : reject(error)));
  });
}

/** php.wasm's relay answers a plain HTTP request with this (and only WebSockets otherwise). */
const RELAY_SIGNATURE = 'Only websockets are allowed here';

/** The ports of the php.wasm relays running in this process: loopback listeners that answer as one. */
export async function relayPorts(): Promise<number[]> {
  const found: number[] = [];
  for (const port of loopbackListenPorts()) {
    const body = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text(), () => '');
    if (body.includes(RELAY_SIGNATURE)) found.push(port);
  }
  return found;
}
