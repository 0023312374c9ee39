/**
 * nginx.conf for the load balancer in front of our replicas (--db mariadb): round robin, HTTP/1.1
 * keep-alive to the upstreams (no new connection per request), loopback only, no access log. Kept
 * minimal on purpose, unlike deploy/nginx/wordpress.conf (least_conn, retries, health checks): the
 * bench measures what spreading requests over processes gives, not failover.
 */
import { HOST } from './loopback.js';
import { nginxHttpBasics } from './native-config.js';

export interface BalancerConfigInput {
  listenPort: number;
  upstreamPorts: number[];
  /** Folder for the pid file and nginx's temp folders. */
  runDir: string;
  logDir: string;
  asRoot: boolean;
}

export function balancerConf(c: BalancerConfigInput): string {
  return `# written by the php-wasm-server bench
${c.asRoot ? 'user root root;\n' : ''}# One worker: proxying a few hundred PHP responses a second keeps it far from busy.
worker_processes 1;
pid ${c.runDir}/nginx.pid;
error_log ${c.logDir}/balancer-error.log warn;

events {
    worker_connections 1024;
}

http {
    access_log off;
${nginxHttpBasics(c.runDir)}

    upstream php_wasm_server {
        # Round robin (nginx's default).
${c.upstreamPorts.map((port) => `        server ${HOST}:${port};`).join('\n')}
        keepalive 32;
        # Below the server's --keepalive-timeout (75 s), so nginx never reuses a connection it is closing.
        keepalive_timeout 60s;
    }

    server {
        listen ${HOST}:${c.listenPort};

        location / {
            proxy_pass http://php_wasm_server;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Host with its port, as the client sent it: the replicas' --site-url is this address.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 60s;
        }
    }
}
`;
}
