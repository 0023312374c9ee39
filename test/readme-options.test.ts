/** The README's options tables are generated from the schema: a new or changed option cannot drift. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { OPTIONS } from '../server/config/options.js';
import { README, renderReadme, serverTable, wordpressTable } from '../server/config/readme-tables.js';
import { projectRoot } from '../server/paths.js';
import { WORDPRESS_OPTIONS } from '../server/wordpress/options.js';

t.test('README.md options tables match the schema (fix: npm run docs:options)', async (t) => {
  const readme = readFileSync(README, 'utf8');
  t.equal(renderReadme(readme), readme, 'the generated tables are what README.md shows');
});

t.test('every option has a README row and a --help line', async (t) => {
  const server = serverTable();
  for (const o of OPTIONS) {
    t.match(server, `\`--${o.flag}`, `${o.key}: flag in the table`);
    t.match(server, `\`${o.env}\``, `${o.key}: variable in the table`);
    t.ok(o.describe.length > 0 && !o.describe.includes('`'), `${o.key}: a plain --help line`);
  }
  const wordpress = wordpressTable();
  for (const o of WORDPRESS_OPTIONS) {
    t.match(wordpress, `\`--${o.flag}`, `${o.key}: flag in the wordpress table`);
    t.ok(o.describe.length > 0, `${o.key}: a --help line`);
  }
});

t.test('config/defaults.json gives every setting the schema requires, and nothing else', async (t) => {
  const defaults = JSON.parse(readFileSync(join(projectRoot, 'config', 'defaults.json'), 'utf8')) as Record<string, unknown>;
  delete defaults.$comment;
  const documented = OPTIONS.filter((o) => !o.docs.noConfigKey).map((o) => o.key);
  t.same(Object.keys(defaults).sort(), documented.sort(), 'one key per setting');
  for (const o of OPTIONS) if (!o.optional && o.key !== 'workers') t.not(defaults[o.key], null, `${o.key} has a default`);
});
