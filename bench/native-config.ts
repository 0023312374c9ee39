/**
 * nginx.conf and the php-fpm config the bench writes for itself (the system's service configs are
 * not used): loopback ports, files under the bench's data folder, php-fpm with a static pool of as
 * many children as our server has workers, opcache on.
 */
import { HOST } from './loopback.js';
import { fastcgiCacheHttp, fastcgiCacheLocation } from './native-page-cache.js';

export interface NativeConfigInput {
  root: string;
  nginxPort: number;
  fpmPort: number;
  /** php-fpm children (= our workers). */
  children: number;
  /** Folder for pid files and nginx's temp folders. */
  runDir: string;
  logDir: string;
  asRoot: boolean;
  /** nginx's fastcgi_cache in this folder, as our page cache (native-page-cache.ts); none without it. */
  pageCacheDir?: string;
  /** pm.max_requests: requests per child before php-fpm replaces it (0 or none: never). */
  maxRequests?: number;
}

/**
 * nginx's stock fastcgi_params, written out rather than included: Debian's copy also sets HTTP_HOST
 * to $host, which drops the port, so WordPress would install itself at http://127.0.0.1 (port 80).
 * Without that line PHP gets the client's Host header as HTTP_HOST, port included, as everywhere else.
 */
const FASTCGI_PARAMS: Array<[string, string]> = [
  ['QUERY_STRING', '$query_string'],
  ['REQUEST_METHOD', '$request_method'],
  ['CONTENT_TYPE', '$content_type'],
  ['CONTENT_LENGTH', '$content_length'],
  ['SCRIPT_NAME', '$fastcgi_script_name'],
  ['SCRIPT_FILENAME', '$document_root$fastcgi_script_name'],
  ['REQUEST_URI', '$request_uri'],
  ['DOCUMENT_URI', '$document_uri'],
  ['DOCUMENT_ROOT', '$document_root'],
  ['SERVER_PROTOCOL', '$server_protocol'],
  ['REQUEST_SCHEME', '$scheme'],
  ['GATEWAY_INTERFACE', 'CGI/1.1'],
  ['SERVER_SOFTWARE', 'nginx/$nginx_version'],
  ['REMOTE_ADDR', '$remote_addr'],
  ['REMOTE_PORT', '$remote_port'],
  ['SERVER_ADDR', '$server_addr'],
  ['SERVER_PORT', '$server_port'],
  ['SERVER_NAME', '$server_name'],
  ['REDIRECT_STATUS', '200'],
];

/** nginx: WordPress's usual front-controller setup, PHP through FastCGI, static files by nginx. */
export function nginxConf(c: NativeConfigInput): string {
  return `# written by the php-wasm-server bench
${c.asRoot ? 'user root root;\n' : ''}worker_processes auto;
pid ${c.runDir}/nginx.pid;
error_log ${c.logDir}/nginx-error.log warn;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
${nginxHttpBasics(c.runDir)}
${c.pageCacheDir ? `${fastcgiCacheHttp(c.pageCacheDir)}\n` : ''}
    server {
        listen 127.0.0.1:${c.nginxPort};
        server_name ${HOST};
        root ${c.root};
        index index.php index.html;

        location ~ /\\.ht {
            deny all;
        }

        location / {
            try_files $uri $uri/ /index.php?$args;
        }

        location ~ \\.php$ {
            try_files $uri =404;
${FASTCGI_PARAMS.map(([name, value]) => `            fastcgi_param ${name.padEnd(17)} ${value};`).join('\n')}
            fastcgi_pass 127.0.0.1:${c.fpmPort};
${c.pageCacheDir ? `${fastcgiCacheLocation()}\n` : ''}        }
    }
}
`;
}

/**
 * php-fpm: one static pool; the php.ini is the package's, with the overrides our server also sets.
 * opcache.enable is not set here: in a pool it can only turn opcache off (PHP warns "can't be
 * temporary enabled"); it is forced on at startup on the command line instead (PHP_FPM_INI_ARGS).
 */
export function phpFpmConf(c: NativeConfigInput): string {
  return `; written by the php-wasm-server bench
[global]
pid = ${c.runDir}/php-fpm.pid
error_log = ${c.logDir}/php-fpm.log
daemonize = no

[bench]
${c.asRoot ? 'user = root\ngroup = root\n' : ''}listen = 127.0.0.1:${c.fpmPort}
listen.backlog = 511
pm = static
pm.max_children = ${c.children}
${c.maxRequests ? `pm.max_requests = ${c.maxRequests}\n` : ''}catch_workers_output = yes
php_admin_value[memory_limit] = 256M
php_admin_value[max_input_vars] = 5000
php_admin_value[upload_max_filesize] = 64M
php_admin_value[post_max_size] = 64M
php_admin_flag[log_errors] = on
php_admin_value[error_log] = ${c.logDir}/php-errors.log
`;
}

/** php-fpm command-line settings (startup stage, so opcache.enable=1 takes effect). */
export const PHP_FPM_INI_ARGS = ['-d', 'opcache.enable=1'];

/** The http-block settings every nginx of the bench shares: keep-alive, body size, temp folders under `runDir`. */
export function nginxHttpBasics(runDir: string): string {
  return `    keepalive_timeout 65;
    keepalive_requests 100000;
    client_max_body_size 64m;
    client_body_temp_path ${runDir}/client_body;
    proxy_temp_path ${runDir}/proxy;
    fastcgi_temp_path ${runDir}/fastcgi;
    uwsgi_temp_path ${runDir}/uwsgi;
    scgi_temp_path ${runDir}/scgi;`;
}
