import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../../server/paths.js';

const CLI = join(projectRoot, 'bin', 'php-wasm-server.js');

export interface Run {
  child: ChildProcessWithoutNullStreams;
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
  exit: Promise<number | null>;
  /** Resolves with the URL once the server logs that it listens. */
  listening: Promise<string>;
}

/**
 * The `php-wasm-server` command as a real child process; its JSON log lines are collected.
 * `asExecutable`: run the launcher itself, through its shebang, as `npm start` and npx do.
 */
export function runCli(args: string[], env: Record<string, string> = {}, { asExecutable = false } = {}): Run {
  const [command, commandArgs] = asExecutable ? [CLI, args] : [process.execPath, [CLI, ...args]];
  const child = spawn(command, commandArgs, { env: { ...process.env, ...env }, cwd: projectRoot });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffer = '';
  let onListening: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => { onListening = resolve; });
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'listening') onListening(entry.url as string);
      } catch {
        lines.push({ raw: line });
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  // Also when the test process ends without its teardowns (a failed top-level await): never a stray server.
  const killOnExit = () => { if (child.exitCode === null) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  return { child, lines, stderr: () => stderr, exit, listening };
}



export interface JobResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `php-wasm-server php ARGS…` as a real child process: `input` is its whole stdin; its output as text. */
export function runPhpJob(args: string[], { cwd = projectRoot, input = '', env = {} }: { cwd?: string; input?: string; env?: Record<string, string> } = {}): Promise<JobResult> {
  const child = spawn(process.execPath, [CLI, 'php', ...args], { cwd, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk; });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
  child.stdin.end(input);
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
