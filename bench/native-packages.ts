/**
 * nginx + php-fpm from Debian's packages: installed with apt-get when missing (needs root),
 * never started as system services (the bench runs its own instances with its own configs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

export const NATIVE_PACKAGES = ['nginx', 'php-fpm', 'php-sqlite3', 'php-xml', 'php-mbstring'];
/** --db mariadb: php-fpm's mysqli (php-mysql follows php-fpm's default PHP version) and the server. */
export const MARIADB_PACKAGES = ['php-mysql', 'mariadb-server'];

export interface NativeBinaries {
  nginx: string;
  phpFpm: string;
  /** e.g. "8.2", from the php-fpm binary's name. */
  phpFpmVersion: string;
}

/** Installs the missing packages (NATIVE_PACKAGES and extra), then returns the binaries. */
export function ensureNativePackages(say: (line: string) => void, extra: string[] = []): NativeBinaries {
  const packages = [...NATIVE_PACKAGES, ...extra];
  const missing = packages.filter((name) => !isInstalled(name));
  if (missing.length > 0 || !findBinaries()) {
    const wanted = missing.length > 0 ? missing : packages;
    if (process.getuid?.() !== 0) {
      throw new Error(`--compare-native needs Debian packages ${wanted.join(' ')}: run as root, or install them: apt-get install -y ${packages.join(' ')}`);
    }
    say(`installing ${wanted.join(' ')} (apt-get)`);
    if (!aptGet(['install', '-y', '--no-install-recommends', ...packages])) {
      say('apt-get install failed; running apt-get update and trying again');
      if (!aptGet(['update']) || !aptGet(['install', '-y', '--no-install-recommends', ...packages])) {
        throw new Error(`apt-get could not install ${packages.join(' ')}`);
      }
    }
  }
  const binaries = findBinaries();
  if (!binaries) throw new Error(`nginx or php-fpm not found after installing ${packages.join(' ')}`);
  return binaries;
}

function isInstalled(pkg: string): boolean {
  const result = spawnSync('dpkg-query', ['-W', '-f', '${db:Status-Status}', pkg], { encoding: 'utf8', timeout: 30_000 });
  return result.status === 0 && result.stdout.trim() === 'installed';
}

function aptGet(args: string[]): boolean {
  const result = spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 10 * 60_000,
  });
  return result.status === 0;
}

function findBinaries(): NativeBinaries | undefined {
  const nginx = which('nginx') ?? ['/usr/sbin/nginx'].find((p) => existsSync(p));
  // Debian names it php-fpm<major>.<minor>; pick the newest installed.
  const fpm = readdirSync('/usr/sbin')
    .map((name) => /^php-fpm(\d+)\.(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]) || Number(b[2]) - Number(a[2]))[0];
  if (!nginx || !fpm) return undefined;
  return { nginx, phpFpm: `/usr/sbin/${fpm[0]}`, phpFpmVersion: `${fpm[1]}.${fpm[2]}` };
}

function which(command: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8', timeout: 10_000 });
  const path = result.stdout.trim();
  return result.status === 0 && path ? path : undefined;
}
