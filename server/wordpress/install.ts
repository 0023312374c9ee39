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
  const outcome = await submitInstaller(base, { title: siteTitle, user: adminUser, password: adminPassword, email: adminEmail });
  if (outcome.result === 'already installed') {
    // Info, not debug: with several replicas starting at once, one installs and the others say this.
    log.info('WordPress already installed');
    return false;
  }
  const ok = outcome.result === 'installed';
  if (ok) log.info({ title: siteTitle, user: adminUser, siteUrl: config.siteUrl ?? base }, 'WordPress installed');
  else log.error({ status: outcome.status, page: outcome.page.slice(0, 500) }, 'WordPress install failed');
  return ok;
}

export interface SiteAdmin {
  title: string;
  user: string;
  password: string;
  email: string;
}

export type InstallerOutcome =
  | { result: 'installed' }
  | { result: 'already installed' }
  | { result: 'failed'; status: number; page: string };

/**
 * WordPress's own installer form (wp-admin/install.php?step=2), submitted as a person would; the
 * address WordPress records is `baseUrl` (unless WP_SITEURL is defined). Shared with the bench.
 */
export async function submitInstaller(baseUrl: string, site: SiteAdmin, timeoutMs = 120_000): Promise<InstallerOutcome> {
  const check = await fetch(`${baseUrl}/wp-admin/install.php`, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  const page = await check.text();
  if (!page.includes('name="weblog_title"') && !page.includes('step=1')) return { result: 'already installed' };
  const form = new URLSearchParams({
    weblog_title: site.title,
    user_name: site.user,
    admin_password: site.password,
    admin_password2: site.password,
    pw_weak: 'on',
    admin_email: site.email,
    blog_public: '1',
    language: '',
  });
  const response = await fetch(`${baseUrl}/wp-admin/install.php?step=2`, { method: 'POST', body: form, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  // Another server of the same site installed it meanwhile (the installer's lock made this one wait).
  if (/<h1>\s*Already Installed\s*<\/h1>/i.test(text)) return { result: 'already installed' };
  return response.status === 200 && text.includes('wp-login.php') ? { result: 'installed' } : { result: 'failed', status: response.status, page: text };
}
