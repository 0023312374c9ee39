/**
 * The deployment files (deploy/): offline, against the published schemas — deploy/compose.yaml
 * against the Compose Specification's JSON schema (as dclint ships it), every Kubernetes manifest
 * against the Kubernetes API's (kubernetes-models) — and then what a schema cannot see: the replicas
 * agree on the site, share the uploads, take passwords only from secrets, publish nothing but nginx,
 * and their environment is accepted by the server's own config loader. The nginx file runs through
 * `nginx -t` as test/helpers/deploy-nginx.ts renders it for the replica tests.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import Ajv from 'ajv';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as coreV1 from 'kubernetes-models/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import { DEPLOY_NGINX_CONF, DEPLOY_REPLICAS, renderDeployNginx } from './helpers/deploy-nginx.js';
import { nginxAvailable } from './helpers/nginx.js';
import { tempDir } from './helpers/server.js';
import { projectRoot } from '../server/paths.js';
import { loadWordPressConfig } from '../server/wordpress/start.js';
import { MALLOC_TUNABLE } from '../server/malloc-tunables.js';
import { SERVER_NODE_FLAGS } from '../server/node-flags.js';

const DEPLOY = join(projectRoot, 'deploy');
const KUBERNETES = join(DEPLOY, 'kubernetes');
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path)) ?? 'nginx';
const SECRET_NAME = /PASSWORD|_KEY$|_SALT$/;

type Env = Record<string, string>;
interface Service {
  image?: string;
  build?: { context: string; args?: Env };
  environment?: Record<string, string | number | boolean>;
  secrets?: string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  entrypoint?: string[];
  user?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
}

const readDeploy = (path: string) => readFileSync(join(DEPLOY, path), 'utf8');
const compose = parse(readDeploy('compose.yaml'), { merge: true }) as Compose;
const nginxConf = readFileSync(DEPLOY_NGINX_CONF, 'utf8').replace(/#.*$/gm, '');

/** Compose's `${VAR:-default}` as Compose resolves it with VAR unset. */
function interpolated(value: string | number | boolean): string {
  return String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

/** The runtime stage's ENV of the Dockerfile, `${ARG}` replaced from `args`. */
function imageEnv(args: Env): Env {
  const text = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const env: Env = {};
  for (const [, body] of runtime.matchAll(/^ENV\s+(.+)$/gm)) {
    for (const [, key, value] of body.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) {
      env[key] = value.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? '');
    }
  }
  return env;
}

/** Every `*_FILE` variable pointed at a readable stand-in holding `secret:NAME`, as the loader reads it. */
function withStandInSecrets(env: Env, dir: string): Env {
  const out: Env = { ...env };
  for (const [key, value] of Object.entries(env)) {
    if (!key.endsWith('_FILE')) continue;
    const file = join(dir, key);
    writeFileSync(file, `secret:${value}\n`);
    out[key] = file;
  }
  return out;
}

/** An nginx directive's arguments, for each time it occurs. */
function directives(name: string): string[][] {
  return [...nginxConf.matchAll(new RegExp(`^\\s*${name}\\s+([^;{}]*);`, 'gm'))].map((m) => m[1].trim().split(/\s+/));
}

/** An nginx time (`2s`, `1m`, `500ms`) in seconds, or a size (`64m`) in bytes. */
function nginxSeconds(value: string): number {
  const [, n, unit = 's'] = /^(\d+)(ms|s|m)?$/.exec(value) ?? [];
  return Number(n) * ({ ms: 0.001, s: 1, m: 60 } as Record<string, number>)[unit];
}
function nginxBytes(value: string): number {
  const [, n, unit = ''] = /^(\d+)([kKmMgG]?)$/.exec(value) ?? [];
  return Number(n) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit.toLowerCase()];
}

const wordpressServices = Object.keys(compose.services).filter((name) => /^wordpress-\d+$/.test(name)).sort();

t.test("the image fixes glibc's mmap threshold, as the launcher does (server/malloc-tunables.ts)", async (t) => {
  // Without it, what V8 frees in worker threads stays in per-thread arenas: ~100 MB more at idle.
  t.equal(imageEnv({}).GLIBC_TUNABLES, MALLOC_TUNABLE);
  t.match(readFileSync(join(projectRoot, 'bin', 'php-wasm-server.js'), 'utf8').split('\n')[0], `GLIBC_TUNABLES=${MALLOC_TUNABLE}:`, "the launcher's shebang");
});

t.test('the image and the launcher start node with the server\'s Node flags (server/node-flags.ts)', async (t) => {
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(projectRoot, 'Dockerfile'), 'utf8'))?.[1];
  t.same(JSON.parse(cmd ?? '[]'), ['node', ...SERVER_NODE_FLAGS, 'dist/server/cli.js', 'wordpress'], 'the image\'s CMD');
  t.match(readFileSync(join(projectRoot, 'bin', 'php-wasm-server.js'), 'utf8').split('\n')[0], new RegExp(` node ${SERVER_NODE_FLAGS.join(' ')}$`), "the launcher's shebang");
});

t.test('compose.yaml is valid under the Compose Specification schema', async (t) => {
  const schemaFile = join(dirname(createRequire(import.meta.url).resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
  // Draft-07, named by its https address, which Ajv knows by the http one: the default draft.
  const { $schema: _draft, ...schema } = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
  t.equal(schema.$id, 'compose_spec.json', "the Compose Specification's own schema");
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  t.ok(validate(compose), `valid: ${JSON.stringify(validate.errors)}`);
  // A misspelt key is refused, so the schema sees the whole file.
  const misspelt = { ...compose, services: { ...compose.services, nginx: { ...compose.services.nginx, port: ['8080:80'] } } };
  t.notOk(validate(misspelt), 'an unknown service key is refused');
});

t.test('compose.yaml: three replicas of the image, one site, one database, shared uploads, secrets only', async (t) => {
  t.same(wordpressServices, DEPLOY_REPLICAS, 'the replicas nginx balances');
  const replicas = wordpressServices.map((name) => compose.services[name]);
  const siteUrls = new Set(replicas.map((s) => s.environment?.PHP_WASM_SERVER_SITE_URL));
  t.equal(siteUrls.size, 1, 'one site URL for every replica');
  t.equal(interpolated([...siteUrls][0] ?? ''), 'http://localhost:8080', "nginx's published address by default");
  t.ok(compose.volumes && 'uploads' in compose.volumes, 'a named uploads volume');

  const mariadb = compose.services.mariadb;
  t.match(mariadb.image, /^mariadb:/, 'the official MariaDB image');
  t.ok(mariadb.healthcheck?.test?.length, 'MariaDB has a health check');
  for (const name of wordpressServices) {
    const service = compose.services[name];
    const env = service.environment ?? {};
    t.equal(service.image, 'php-wasm-server', `${name}: the image`);
    t.ok(existsSync(join(resolve(DEPLOY, service.build?.context ?? '/nonexistent'), 'Dockerfile')), `${name}: built from the repository's Dockerfile`);
    t.match(interpolated(service.build?.args?.WORDPRESS_VERSION ?? ''), /^\d+\.\d+(\.\d+)?$/, `${name}: a pinned WordPress version`);
    t.equal(String(env.PHP_WASM_SERVER_FILE_MODS), 'false', `${name}: no file mods`);
    t.ok(service.volumes?.includes(`uploads:${env.PHP_WASM_SERVER_UPLOADS}`), `${name}: the shared volume at PHP_WASM_SERVER_UPLOADS`);
    t.ok(env.PHP_WASM_SERVER_TRUST_PROXY, `${name}: trusts the proxy`);
    t.equal(service.depends_on?.mariadb?.condition, 'service_healthy', `${name}: starts once MariaDB is healthy`);
    t.equal(service.ports, undefined, `${name}: publishes no port (nor the admin port)`);
    t.equal(env.WORDPRESS_DB_HOST, 'mariadb:3306');
    t.equal(env.WORDPRESS_DB_USER, mariadb.environment?.MARIADB_USER, `${name}: MariaDB's user`);
    t.equal(env.WORDPRESS_DB_NAME, mariadb.environment?.MARIADB_DATABASE, `${name}: MariaDB's database`);
    t.equal(env.WORDPRESS_DB_PASSWORD_FILE, mariadb.environment?.MARIADB_PASSWORD_FILE, `${name}: the same password file as MariaDB's user`);
  }
  // A new named volume takes the owner of the image's folder at its mount point: the image's user.
  t.match(readFileSync(join(projectRoot, 'Dockerfile'), 'utf8'), /mkdir -p [^\n]*\/uploads[^\n]*&& chown node:node [^\n]*\/uploads/, 'the image has /uploads owned by its user');

  for (const [name, service] of Object.entries(compose.services)) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (SECRET_NAME.test(key)) {
        t.ok(key.endsWith('_FILE'), `${name}: ${key} only as a file`);
        const secret = /^\/run\/secrets\/([\w-]+)$/.exec(String(value))?.[1];
        t.ok(secret && service.secrets?.includes(secret), `${name}: ${key} is a secret the service mounts`);
        t.match(compose.secrets[secret ?? '']?.file, /^\.\/secrets\//, `${name}: ${key} from a file under deploy/secrets/`);
      }
    }
  }
  t.ok(readFileSync(join(DEPLOY, 'secrets', '.gitignore'), 'utf8').split('\n').includes('*'), 'the secret files are never committed');

  const nginx = compose.services.nginx;
  t.same(nginx.ports, ['8080:80'], 'only nginx is published');
  t.ok(nginx.volumes?.includes('./nginx/wordpress.conf:/etc/nginx/conf.d/default.conf:ro'), "the deploy conf replaces nginx's default server");
  t.same(Object.keys(nginx.depends_on ?? {}).sort(), wordpressServices, 'nginx starts after the replicas it resolves');
  const published = Object.entries(compose.services).filter(([, s]) => s.ports?.length).map(([n]) => n);
  t.same(published, ['nginx']);
});

t.test("compose.yaml: a replica's environment is accepted by the server's config loader as intended", async (t) => {
  const service = compose.services['wordpress-1'];
  const args = Object.fromEntries(Object.entries(service.build?.args ?? {}).map(([k, v]) => [k, interpolated(v)]));
  const serviceEnv = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolated(v)]));
  const env = withStandInSecrets({ ...imageEnv(args), ...serviceEnv }, tempDir(t, 'pws-deploy-'));
  const { config } = loadWordPressConfig([], env, '/');
  t.equal(config.siteUrl, 'http://localhost:8080');
  t.equal(config.fileMods, false);
  t.equal(config.uploads, '/uploads');
  t.equal(config.port, 8087);
  t.equal(config.adminPort, 9087, 'the admin listener on, in the image');
  t.equal(config.workers, 2);
  t.equal(config.wordpressVersion, args.WORDPRESS_VERSION, 'the pinned version');
  t.match(config.database, { kind: 'mysql', host: 'mariadb', port: 3306, user: 'wordpress', name: 'wordpress', password: 'secret:/run/secrets/db_password' }, 'MariaDB, the password from its file');
});

t.test('nginx/wordpress.conf: passive health checks, retries of idempotent requests only, limits matching the server', async (t) => {
  const env = imageEnv({});
  const servers = directives('server').filter(([address]) => address.includes(':'));
  t.same(servers.map(([address]) => address), DEPLOY_REPLICAS.map((name) => `${name}:${env.PHP_WASM_SERVER_PORT}`), "each replica's public port, never the admin port");
  for (const [address, ...params] of servers) {
    t.ok(params.some((p) => /^max_fails=[1-9]\d*$/.test(p)), `${address}: max_fails`);
    t.ok(params.some((p) => /^fail_timeout=\d+s$/.test(p)), `${address}: fail_timeout`);
  }
  t.notMatch(nginxConf, new RegExp(`:${env.PHP_WASM_SERVER_ADMIN_PORT}\\b`), 'the admin port is never proxied');
  t.ok(directives('keepalive').length === 1, 'idle upstream connections kept');

  const [nextUpstream] = directives('proxy_next_upstream');
  t.same(nextUpstream, ['error', 'timeout', 'http_502', 'http_503', 'http_504'], 'retried on refusal, timeout and 502/503/504');
  t.notMatch(nginxConf, /non_idempotent/, 'a POST is never sent twice');
  t.ok(Number(directives('proxy_next_upstream_tries')[0]?.[0]) > 1, 'tries bounded');
  t.ok(nginxSeconds(directives('proxy_connect_timeout')[0]?.[0] ?? '') <= 5, 'a dead replica is skipped fast');

  const { config } = loadWordPressConfig([], {}, projectRoot);
  t.equal(nginxBytes(directives('client_max_body_size')[0]?.[0] ?? ''), config.maxBody, "the server's --max-body default");
  t.ok(nginxSeconds(directives('proxy_read_timeout')[0]?.[0] ?? '') > config.requestTimeout, "longer than --request-timeout, so the server's 504 arrives");
  t.ok(nginxSeconds(directives('keepalive_timeout')[0]?.[0] ?? '') < config.keepAliveTimeout, 'nginx drops idle upstream connections before the server does');

  t.same(directives('proxy_http_version'), [['1.1']]);
  t.same(directives('proxy_set_header Connection'), [['""']], 'no "Connection: close" to the replicas');
  for (const header of ['Host', 'X-Forwarded-Host', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Port']) {
    t.equal(directives(`proxy_set_header ${header}`).length, 1, `sets ${header}`);
  }
  t.same(directives('listen'), [['80']]);
});

t.test('nginx/wordpress.conf rendered for 127.0.0.1 passes nginx -t', async (t) => {
  if (!nginxAvailable()) throw new Error('nginx is required (apt-get install nginx-light; .ci/run installs it)');
  const dir = tempDir(t, 'pws-deploy-nginx-');
  const conf = renderDeployNginx({ listenPort: 18080, upstreamPorts: [18087, 28087, 38087], tempDir: dir });
  t.match(conf, /server 127\.0\.0\.1:18087 max_fails=\d+ fail_timeout=\d+s;/, 'the replicas on 127.0.0.1, parameters kept');
  t.match(conf, /listen 127\.0\.0\.1:18080;/);
  t.notMatch(conf, /wordpress-\d:|daemon/, 'no replica name left; daemon mode is the caller\'s');
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const check = spawnSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { encoding: 'utf8' });
  t.equal(check.status, 0, `nginx -t: ${check.stderr}`);
  t.match(check.stderr, /test is successful/);
});

t.test('the nginx renderer refuses a deploy file that drifted from what it rewrites', async (t) => {
  const file = readFileSync(DEPLOY_NGINX_CONF, 'utf8');
  const render = (conf: string, upstreamPorts = [1, 2, 3]) => () => renderDeployNginx({ listenPort: 1, upstreamPorts, tempDir: '/tmp/x', conf });
  t.throws(render(file.replace(/^\s*server wordpress-3:8087[^\n]*\n/m, '')), /expected the upstream servers/, 'a replica removed');
  t.throws(render(file.replace('wordpress-2:8087', 'wordpress-2:8088')), /expected wordpress-2:8087/, 'a port changed');
  t.throws(render(file.replace('listen 80;', 'listen 8080;')), /unexpected listen/, 'the listen port changed');
  t.throws(render(file.replace('listen 80;', 'listen 80;\n    listen 80;')), /exactly one/, 'two listen lines');
  t.throws(render(file.replace('proxy_pass http://php_wasm_server;', 'proxy_pass http://wordpress-1:8087;')), /unexpected replica address/);
  t.throws(render(file, [1, 2]), /3 upstream ports/);
});

// --- Kubernetes ---------------------------------------------------------------------------------

interface Manifest { apiVersion: string; kind: string; metadata: { name: string; labels?: Env }; [key: string]: unknown }
const MODELS: Record<string, Record<string, unknown>> = { v1: coreV1, 'apps/v1': appsV1, 'policy/v1': policyV1, 'networking.k8s.io/v1': networkingV1 };
const manifestFiles = readdirSync(KUBERNETES).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
const manifests = manifestFiles.flatMap((file) => parseAllDocuments(readFileSync(join(KUBERNETES, file), 'utf8')).map((doc) => {
  if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
  return { file, manifest: doc.toJS() as Manifest };
}));
const find = <T>(kind: string, file?: string) => manifests.find((m) => m.manifest.kind === kind && (!file || m.file === file))?.manifest as T & Manifest;

interface Probe { httpGet?: { path: string; port: string | number }; periodSeconds?: number; failureThreshold?: number }
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }
interface Container {
  image: string;
  ports: Array<{ name: string; containerPort: number }>;
  env: EnvVar[];
  envFrom: Array<{ configMapRef?: { name: string } }>;
  readinessProbe: Probe; livenessProbe: Probe; startupProbe: Probe;
  resources: { requests: Env; limits: Env };
  securityContext: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface Volume { name: string; emptyDir?: object; persistentVolumeClaim?: { claimName: string }; secret?: { secretName: string; items?: Array<{ key: string; path: string }> } }
interface Deployment {
  spec: { replicas: number; selector: { matchLabels: Env }; template: { metadata: { labels: Env }; spec: {
    securityContext: { runAsNonRoot?: boolean; runAsUser?: number }; containers: Container[]; volumes: Volume[];
  } } };
}

t.test('kubernetes/: every manifest is valid under the Kubernetes API schemas; the kustomization lists them', async (t) => {
  t.ok(manifests.length >= 5, 'deployment, service, PVC, configmap and secret example');
  for (const { file, manifest } of manifests) {
    const Model = MODELS[manifest.apiVersion]?.[manifest.kind] as (new (data: object) => { validate(): void }) | undefined;
    t.ok(Model, `${file}: a known kind (${manifest.apiVersion} ${manifest.kind})`);
    if (Model) t.doesNotThrow(() => new Model(manifest).validate(), `${file}: valid ${manifest.kind}`);
  }
  // The check bites: a wrong type is refused.
  const deployment = find<Deployment>('Deployment');
  t.throws(() => new appsV1.Deployment({ ...deployment, spec: { ...deployment.spec, replicas: 'three' } } as never).validate(), /replicas/);

  const kustomization = parse(readFileSync(join(KUBERNETES, 'kustomization.yaml'), 'utf8')) as { apiVersion: string; kind: string; resources: string[]; images: Array<{ name: string }> };
  t.equal(kustomization.apiVersion, 'kustomize.config.k8s.io/v1beta1');
  t.equal(kustomization.kind, 'Kustomization');
  t.same([...kustomization.resources].sort(), manifestFiles.filter((f) => f !== 'secret.example.yaml'), 'every manifest but the example Secret');
  t.ok(kustomization.images.some((i) => i.name === deployment.spec.template.spec.containers[0].image), "its images entry sets the Deployment's image");
});

t.test('kubernetes/: probes on the admin port, the Service without it, passwords only from the Secret, shared uploads', async (t) => {
  const deployment = find<Deployment>('Deployment');
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  const env = imageEnv({});
  t.equal(deployment.spec.replicas, 3);
  t.same(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels);
  const portNumber = (port: string | number | undefined) => typeof port === 'number' ? port : container.ports.find((p) => p.name === port)?.containerPort;
  const adminPort = Number(env.PHP_WASM_SERVER_ADMIN_PORT);
  t.same(container.readinessProbe.httpGet && [container.readinessProbe.httpGet.path, portNumber(container.readinessProbe.httpGet.port)], ['/readyz', adminPort], 'readiness: /readyz on the admin port');
  t.same(container.livenessProbe.httpGet && [container.livenessProbe.httpGet.path, portNumber(container.livenessProbe.httpGet.port)], ['/healthz', adminPort], 'liveness: /healthz on the admin port');
  t.equal(portNumber(container.startupProbe.httpGet?.port), adminPort, 'startup: on the admin port');
  const startupBudget = (container.startupProbe.periodSeconds ?? 10) * (container.startupProbe.failureThreshold ?? 3);
  t.ok(startupBudget >= 30 && startupBudget <= 300, `startup allowed ${startupBudget} s (a cold start takes about 5 s)`);

  const service = find<{ spec: { type?: string; selector: Env; ports: Array<{ port: number; targetPort: string | number }> } }>('Service');
  t.equal(service.spec.type ?? 'ClusterIP', 'ClusterIP');
  t.same(service.spec.selector, deployment.spec.template.metadata.labels, 'selects the pods');
  t.same(service.spec.ports.map((p) => [p.port, portNumber(p.targetPort)]), [[80, Number(env.PHP_WASM_SERVER_PORT)]], 'only 80 -> 8087: no admin port');

  const configMap = find<{ data: Env }>('ConfigMap');
  t.ok(container.envFrom.some((e) => e.configMapRef?.name === configMap.metadata.name), 'env from the ConfigMap');
  t.equal(configMap.data.PHP_WASM_SERVER_FILE_MODS, 'false');
  t.equal(configMap.data.PHP_WASM_SERVER_WORKERS, '2');
  t.ok(configMap.data.PHP_WASM_SERVER_SITE_URL, 'one site URL for every pod');
  t.match(configMap.data.PHP_WASM_SERVER_WORDPRESS_VERSION, /^\d+\.\d+(\.\d+)?$/, 'a pinned WordPress version');
  for (const key of Object.keys(configMap.data)) t.notOk(SECRET_NAME.test(key), `ConfigMap holds no secret (${key})`);

  const secret = find<{ stringData: Env }>('Secret', 'secret.example.yaml');
  const secretVolume = pod.volumes.find((v) => v.secret?.secretName === secret.metadata.name);
  const secretMount = container.volumeMounts.find((m) => m.name === secretVolume?.name);
  for (const variable of container.env) {
    if (!SECRET_NAME.test(variable.name)) continue;
    if (variable.name.endsWith('_FILE')) {
      const item = secretVolume?.secret?.items?.find((i) => `${secretMount?.mountPath}/${i.path}` === variable.value);
      t.ok(item && item.key in secret.stringData, `${variable.name}: a file of the mounted Secret`);
    } else {
      t.equal(variable.value, undefined, `${variable.name}: no plaintext value`);
      t.equal(variable.valueFrom?.secretKeyRef?.name, secret.metadata.name, `${variable.name}: from the Secret`);
    }
  }
  t.ok(container.env.some((v) => v.name === 'WORDPRESS_DB_PASSWORD_FILE'), 'the database password as a file');
  t.match(readFileSync(join(KUBERNETES, 'secret.example.yaml'), 'utf8'), /^# EXAMPLE ONLY/, 'the Secret is marked an example');

  const pvc = find<{ spec: { accessModes: string[] } }>('PersistentVolumeClaim');
  t.same(pvc.spec.accessModes, ['ReadWriteMany'], 'uploads shared by every pod');
  const uploads = pod.volumes.find((v) => v.persistentVolumeClaim?.claimName === pvc.metadata.name);
  t.equal(container.volumeMounts.find((m) => m.name === uploads?.name)?.mountPath, configMap.data.PHP_WASM_SERVER_UPLOADS, 'mounted at PHP_WASM_SERVER_UPLOADS');

  t.equal(pod.securityContext.runAsNonRoot, true);
  t.equal(pod.securityContext.runAsUser, 1000, "the image's node user");
  t.equal(container.securityContext.readOnlyRootFilesystem, true);
  t.equal(container.securityContext.allowPrivilegeEscalation, false);
  for (const path of ['/data', '/tmp']) {
    const mount = container.volumeMounts.find((m) => m.mountPath === path);
    t.ok(pod.volumes.find((v) => v.name === mount?.name)?.emptyDir, `${path}: a writable emptyDir`);
  }
  t.same(Object.keys(container.resources.requests).sort(), ['cpu', 'memory'], 'requests set');
  t.ok(container.resources.limits.memory, 'a memory limit');
});

t.test("kubernetes/: a pod's environment is accepted by the server's config loader as intended", async (t) => {
  const deployment = find<Deployment>('Deployment');
  const [container] = deployment.spec.template.spec.containers;
  const secret = find<{ stringData: Env }>('Secret', 'secret.example.yaml');
  const podEnv: Env = { ...imageEnv({ WORDPRESS_VERSION: 'latest' }), ...find<{ data: Env }>('ConfigMap').data };
  for (const variable of container.env) {
    const ref = variable.valueFrom?.secretKeyRef;
    podEnv[variable.name] = ref ? secret.stringData[ref.key] : variable.value ?? '';
  }
  const { config } = loadWordPressConfig([], withStandInSecrets(podEnv, tempDir(t, 'pws-deploy-')), '/');
  t.equal(config.fileMods, false);
  t.equal(config.uploads, '/uploads');
  t.equal(config.workers, 2);
  t.equal(config.dir, '/data/wordpress', 'the code in the /data emptyDir');
  t.equal(config.opcacheFileCache, '/data/opcache', 'compiled scripts in /data too: the root file system is read-only');
  t.equal(config.adminPort, 9087);
  t.equal(config.wordpressVersion, podEnv.PHP_WASM_SERVER_WORDPRESS_VERSION);
  t.ok(config.siteTitle && config.adminUser && config.adminPassword && config.adminEmail, 'all four unattended-install settings');
  t.match(config.database, { kind: 'mysql', port: 3306, user: 'wordpress', name: 'wordpress', password: 'secret:/run/secrets/php-wasm-server/db-password' });
});
