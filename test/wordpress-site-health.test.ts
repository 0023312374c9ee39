/**
 * Site Health → Status on a fresh default site, read from WordPress's own sources: the direct tests
 * it renders into the page (SiteHealth.site_status.direct) and each asynchronous test's REST endpoint,
 * as the page's script calls them. None may be critical but "Could not reach WordPress.org", which
 * an offline machine (CI) rightly gets. The loopback, REST and page-cache tests make WordPress call
 * itself; with one worker that needs a self-call worker.
 */
import t from 'tap';
import { tempDir } from './helpers/server.js';
import { logIn, phpErrors, startTestWordPress } from './helpers/wordpress.js';

const ADMIN = { siteTitle: 'Site Health Test', adminUser: 'admin', adminPassword: 'correct horse battery staple', adminEmail: 'admin@example.com' };

type Result = { label: string; status: 'good' | 'recommended' | 'critical'; test: string; description?: string };
type AsyncTest = { test: string; has_rest?: boolean };

t.test('a fresh site with one worker: no critical Site Health item (offline: only WordPress.org unreachable)', async (t) => {
  const server = await startTestWordPress(tempDir(t, 'pws-health-'), { ...ADMIN, workers: 1 });
  t.teardown(() => server.close());
  const admin = await logIn(`http://127.0.0.1:${server.port}`, ADMIN.adminUser, ADMIN.adminPassword);

  const page = await (await admin.get('/wp-admin/site-health.php')).text();
  const json = /var SiteHealth = (\{.*?\});\n/s.exec(page)?.[1];
  t.ok(json, 'the Status page carries its test data');
  const data = JSON.parse(json!) as { nonce: { site_status_result: string }; site_status: { direct: Result[]; async: AsyncTest[] } };
  const nonce = /"nonce":"([0-9a-f]+)"/.exec(/wpApiSettings = (\{.*?\});/s.exec(page)?.[1] ?? '')?.[1] ?? '';
  t.ok(data.site_status.direct.length > 10, `${data.site_status.direct.length} direct tests`);
  t.ok(data.site_status.async.length >= 4, `${data.site_status.async.length} asynchronous tests`);

  const results: Result[] = [...data.site_status.direct];
  for (const test of data.site_status.async) {
    const url = new URL(test.test);
    t.ok(test.has_rest, `${url.pathname} is a REST endpoint`);
    // As site-health.js calls it: this one checks that an Authorization header reaches PHP.
    const auth: Record<string, string> = url.pathname.endsWith('/authorization-header') ? { authorization: `Basic ${Buffer.from('user:pwd').toString('base64')}` } : {};
    const response = await admin.get(url.pathname + url.search, { 'x-wp-nonce': nonce, ...auth });
    const text = await response.text();
    t.equal(response.status, 200, `${url.pathname}: answered (${text.slice(0, 120)})`);
    results.push(JSON.parse(text) as Result);
  }
  const summary = results.map((r) => `${r.status}: ${r.test} (${r.label})`);
  t.comment(summary.join('\n'));
  const critical = results.filter((r) => r.status === 'critical' && r.test !== 'dotorg_communication');
  t.same(critical.map((r) => `${r.test}: ${r.label}`), [], 'nothing critical but WordPress.org communication');
  t.equal(results.find((r) => r.test === 'authorization_header')?.status, 'good', 'the Authorization header reaches PHP');
  for (const name of ['loopback_requests', 'rest_availability']) {
    t.equal(results.find((r) => r.test === name)?.status, 'good', `${name} is good: the site reached itself`);
  }
  t.equal(results.find((r) => r.test === 'http_requests')?.status, 'recommended', 'outgoing HTTP is limited to named hosts, not blocked');
  t.ok(server.logs.some((l) => l.msg === 'every worker is busy and PHP is calling this server: starting a self-call worker'), 'served through a self-call worker');
  t.same(phpErrors(server.logs).filter((m) => !/WordPress\.org/.test(m)), [], 'no PHP errors but the offline update check');
});
