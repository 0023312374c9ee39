import type { Logger } from 'pino';
import type { RunningServer } from '../server.js';
import type { WordPressConfig } from './options.js';
import { defaultSiteUrl } from './site-url.js';

/**
 * Unattended install (containers, tests): when title and admin credentials are configured and the
 * site is not installed yet, submit WordPress's own installer form over loopback HTTP, exactly as a
 * person would. WordPress records the address the installer was reached at, unless --site-url set
 * WP_SITEURL: so without it the form goes to http://localhost:PORT, never to a wildcard address.
 */
export async function installIfRequested(server: RunningServer, config: WordPressConfig, log: Logger): Promise<boolean> {
  const { siteTitle, adminUser, adminPassword, adminEmail } = config;
  if (!siteTitle || !adminUser || !adminPassword || !adminEmail) return false;
  const base = config.siteUrl ? server.url : defaultSiteUrl(config.host, server.port);
  const check = await fetch(`${base}/wp-admin/install.php`, { redirect: 'manual' });
  const page = await check.text();
  if (!page.includes('name="weblog_title"') && !page.includes('step=1')) {
    log.debug('WordPress already installed');
    return false;
  }
  const form = new URLSearchParams({
    weblog_title: siteTitle,
    user_name: adminUser,
    admin_password: adminPassword,
    admin_password2: adminPassword,
    pw_weak: 'on',
    admin_email: adminEmail,
    blog_public: '1',
    language: '',
  });
  const response = await fetch(`${base}/wp-admin/install.php?step=2`, { method: 'POST', body: form, redirect: 'manual' });
  const text = await response.text();
  const ok = response.status === 200 && text.includes('wp-login.php');
  if (ok) log.info({ title: siteTitle, user: adminUser, siteUrl: config.siteUrl ?? base }, 'WordPress installed');
  else log.error({ status: response.status, page: text.slice(0, 500) }, 'WordPress install failed');
  return ok;
}
