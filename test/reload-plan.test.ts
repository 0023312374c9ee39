/** planReload: which changed settings a reload applies and which need a restart (pure). */
import t from 'tap';
import { loadConfig } from '../server/config/load.js';
import { projectRoot } from '../server/paths.js';
import { planReload, RELOADABLE } from '../server/reload-plan.js';

const base = loadConfig({ argv: [], env: {}, cwd: projectRoot }).config;

t.test('reloadable changes are applied, the others keep their running values and are named', async (t) => {
  const next = { ...base, env: { A: '1' }, requestTimeout: 5, port: 9999, docroot: '/elsewhere', php: '8.2', workers: 7 } as typeof base;
  const plan = planReload(base, next);
  t.same(plan.applied, ['env', 'requestTimeout', 'workers']);
  t.same(plan.needRestart, ['docroot', 'php', 'port']);
  t.same(plan.config.env, { A: '1' });
  t.equal(plan.config.requestTimeout, 5);
  t.equal(plan.config.port, base.port, 'the port stays');
  t.equal(plan.config.docroot, base.docroot);
});

t.test('nothing changed: nothing to apply; equal values in new objects are no change', async (t) => {
  const plan = planReload(base, { ...base, ini: { ...base.ini }, mounts: [...base.mounts] });
  t.same([plan.applied, plan.needRestart], [[], []]);
});

t.test('a preset can name settings that act through reloadable ones', async (t) => {
  const running = { ...base, siteUrl: 'http://a.test' } as typeof base;
  const next = { ...base, siteUrl: 'http://b.test' } as typeof base;
  t.same(planReload(running, next).needRestart, ['siteUrl']);
  t.same(planReload(running, next, ['siteUrl']).applied, ['siteUrl']);
});

t.test('every reloadable key is a real setting', async (t) => {
  for (const key of RELOADABLE) t.ok(key === 'extraPrepend' || key in base, key);
});
