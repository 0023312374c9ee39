/**
 * The soak's request mix (issue #12): 90 % trivial .php and static files, 10 % WordPress pages.
 * Each connection walks the list in order, so every 20 requests hold exactly this mix, and the
 * WordPress pages are spread out rather than bunched.
 */
import { HELLO_SCRIPT } from './site.js';

export const SOAK_STATIC = '/wp-includes/js/jquery/jquery.min.js';
export const SOAK_WORDPRESS = ['/', '/?rest_route=/wp/v2/posts'];

/** Requests in the soak, and its time bound (whichever comes first). */
export const SOAK_REQUESTS = 50_000;
export const SOAK_MAX_SECONDS = 600;

/** 20 paths: 1 home page, 1 REST call, 9 trivial scripts, 9 static files. */
export function soakMix(): string[] {
  const paths: string[] = [];
  for (let i = 0; i < 10; i++) {
    paths.push(i === 0 || i === 5 ? SOAK_WORDPRESS[i === 0 ? 0 : 1] : `/${HELLO_SCRIPT}`);
    paths.push(SOAK_STATIC);
  }
  return paths;
}

/** Share of the mix that is a WordPress page. */
export function wordpressShare(paths: string[]): number {
  return paths.filter((p) => SOAK_WORDPRESS.includes(p)).length / paths.length;
}
