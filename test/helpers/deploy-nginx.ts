/**
 * deploy/nginx/wordpress.conf as a complete nginx.conf for a test on 127.0.0.1: only the replicas'
 * addresses (`server wordpress-N:8087`) and `listen 80` are rewritten, everything else runs as
 * shipped. It throws when the file no longer has exactly those lines, so the deploy file and the
 * tests that run it cannot drift apart. No `daemon off`: the caller starts nginx as it needs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../server/paths.js';

export const DEPLOY_NGINX_CONF = join(projectRoot, 'deploy', 'nginx', 'wordpress.conf');

/** The replicas the deploy file balances, in order (compose.yaml's services). */
export const DEPLOY_REPLICAS = ['wordpress-1', 'wordpress-2', 'wordpress-3'];
const UPSTREAM_PORT = 8087;

const SERVER_LINE = /^(\s*server\s+)([A-Za-z0-9.-]+):(\d+)(\s[^;]*)?;\s*$/;
const LISTEN_LINE = /^(\s*)listen\s+80\s*;\s*$/;

export interface DeployNginxOptions {
  listenPort: number;
  /** One port on 127.0.0.1 per replica, in DEPLOY_REPLICAS order. */
  upstreamPorts: number[];
  /** nginx's prefix: pid, logs and temp folders go here (worker processes must be able to enter it). */
  tempDir: string;
  /** The deploy conf's text (tests of the drift check); the file by default. */
  conf?: string;
}

export function renderDeployNginx({ listenPort, upstreamPorts, tempDir, conf }: DeployNginxOptions): string {
  if (upstreamPorts.length !== DEPLOY_REPLICAS.length) {
    throw new Error(`deploy nginx: ${DEPLOY_REPLICAS.length} upstream ports needed (one per replica), got ${upstreamPorts.length}`);
  }
  const lines = (conf ?? readFileSync(DEPLOY_NGINX_CONF, 'utf8')).split('\n');
  const servers: string[] = [];
  let listens = 0;
  const rendered = lines.map((line) => {
    const code = line.replace(/#.*/, '');
    const server = SERVER_LINE.exec(code);
    if (server) {
      const [, head, host, port, params = ''] = server;
      const index = servers.push(`${host}:${port}`) - 1;
      if (host !== DEPLOY_REPLICAS[index] || Number(port) !== UPSTREAM_PORT) {
        throw new Error(`deploy nginx: upstream server ${servers.length} is ${host}:${port}, expected ${DEPLOY_REPLICAS[index]}:${UPSTREAM_PORT}`);
      }
      return `${head}127.0.0.1:${upstreamPorts[index]}${params};`;
    }
    if (LISTEN_LINE.test(code)) {
      listens += 1;
      return code.replace(/listen\s+80/, `listen 127.0.0.1:${listenPort}`);
    }
    if (/\blisten\b/.test(code)) throw new Error(`deploy nginx: unexpected listen line: ${line.trim()}`);
    if (/wordpress-\d/.test(code)) throw new Error(`deploy nginx: unexpected replica address: ${line.trim()}`);
    return line;
  });
  if (servers.length !== DEPLOY_REPLICAS.length) {
    throw new Error(`deploy nginx: expected the upstream servers ${DEPLOY_REPLICAS.join(', ')}, found ${servers.join(', ') || 'none'}`);
  }
  if (listens !== 1) throw new Error(`deploy nginx: expected exactly one "listen 80;", found ${listens}`);

  return `pid ${tempDir}/nginx.pid;
error_log ${tempDir}/error.log warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
events { worker_connections 256; }
http {
  access_log ${tempDir}/access.log;
  client_body_temp_path ${tempDir}/client_body;
  proxy_temp_path ${tempDir}/proxy;
  fastcgi_temp_path ${tempDir}/fastcgi;
  uwsgi_temp_path ${tempDir}/uwsgi;
  scgi_temp_path ${tempDir}/scgi;
  # deploy/nginx/wordpress.conf (conf.d), addresses rewritten for 127.0.0.1:
${rendered.join('\n')}
}
`;
}
