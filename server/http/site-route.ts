import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { DocrootView } from '../routing.js';
import { resolveRequest, type RouteOptions } from '../routing.js';
import type { StaticCache } from '../static-cache.js';
import { serveStatic } from '../static-files.js';
import { sendPlain } from './plain-reply.js';
import { locateInSite, type Overlay } from '../site-overlays.js';
import type { PhpTarget } from './php-handler.js';

export interface SiteRouteOptions {
  view: DocrootView;
  routeOptions: RouteOptions;
  /** The docroot's real path (static files are opened below it). */
  docrootReal: string;
  /** Folders mounted inside the docroot (static files below them are opened there). */
  overlays: readonly Overlay[];
  staticCache?: StaticCache;
  compress: boolean;
  runPhp: (request: Parameters<typeof serveStatic>[0], reply: Parameters<typeof serveStatic>[1], target: PhpTarget) => Promise<unknown>;
  log: Logger;
}

/** The one catch-all route: the router decides (static file | PHP | redirect | refusal), this carries it out. */
export const siteRoute: FastifyPluginAsync<SiteRouteOptions> = async (app, { view, routeOptions, docrootReal, overlays, staticCache, compress, runPhp, log }) => {
  app.all('*', async (request, reply) => {
    const resolution = resolveRequest(request.url, view, routeOptions, request.method);
    switch (resolution.type) {
      case 'error':
        log.debug({ path: request.url, reason: resolution.reason }, 'request refused');
        if (resolution.status === 405) reply.header('allow', resolution.allow);
        return sendPlain(reply, resolution.status);
      case 'redirect':
        return reply.redirect(resolution.location, resolution.status);
      case 'static': {
        request.servedBy = 'static';
        const place = locateInSite(docrootReal, overlays, resolution.relPath);
        // The cache and the view answer for docroot paths only; a mounted folder is read directly.
        if (place.overlay) return serveStatic(request, reply, place.root, place.relPath, undefined, compress);
        return serveStatic(request, reply, docrootReal, resolution.relPath, staticCache, compress, view);
      }
      case 'php':
        return runPhp(request, reply, resolution);
    }
  });
};
