import { pino, type Logger } from 'pino';

/** Structured logs: pretty in a terminal, JSON lines otherwise (containers, log shippers). */
export function createLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  return pino({
    level,
    base: undefined,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
