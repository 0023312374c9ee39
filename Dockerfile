# php-wasm-server serving WordPress + SQLite.
#   docker build -t php-wasm-server .
#   docker run -p 8087:8087 -v wp-data:/data php-wasm-server
# With podman/buildah build with `--format docker`: the default OCI format drops the HEALTHCHECK.
# A host folder instead of a named volume must be writable by the image's user: chown 1000:1000 DIR.
# Behind a reverse proxy add e.g. -e PHP_WASM_SERVER_TRUST_PROXY=uniquelocal (see README).
# --build-arg WORDPRESS_VERSION=latest|X.Y.Z|bundled: what a new site is assembled from. It is fetched
# and verified now, so the container needs no network for it; a build without network keeps the
# bundled WordPress 6.5 (and the container tries again when it creates a site).

# --- build: compile TypeScript, keep only what the runtime needs -----------------------------
FROM node:24-bookworm-slim AS build
ARG WORDPRESS_VERSION=latest
WORKDIR /app
COPY package.json package-lock.json ./
# postinstall: builds fs-ext's native module only if no prebuilt binary loads (none does on Node 26).
COPY scripts scripts
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.server.json ./
COPY server server
COPY bin bin
COPY config config
COPY docroot docroot
RUN npx tsc -p tsconfig.server.json \
 && npm prune --omit=dev --no-audit --no-fund \
 # Only the PHP version the image runs (8.5): every other @php-wasm build is ~50 MB,
 # and Node 24 loads the JSPI build, never the asyncify one.
 && find node_modules/@php-wasm -maxdepth 1 -name 'node-[0-9]*' ! -name 'node-8-5' -exec rm -rf {} + \
 && rm -rf node_modules/@php-wasm/node-8-5/asyncify \
 # intl, redis, memcached and xdebug are loadable extensions the server never loads; icu.dat (30 MB)
 # is intl's data.
 && rm -rf node_modules/@php-wasm/node-8-5/jspi/extensions node_modules/@php-wasm/node/shared/icu.dat \
 # koffi (malloc_trim, see server/malloc-trim.ts) ships a binary for every platform (74 MB): this one's only.
 && find node_modules/koffi/build/koffi -mindepth 1 -maxdepth 1 ! -name "$(node -p 'process.platform + "_" + process.arch')" -exec rm -rf {} + \
 && rm -rf node_modules/koffi/src node_modules/koffi/vendor node_modules/koffi/doc \
 # Only WordPress 6.5 and the SQLite plugin from the builds package (it ships every version).
 && cd node_modules/@wp-playground/wordpress-builds \
 && find src/wordpress -name '*.zip' ! -name 'wp-6.5.zip' -delete \
 && find public -mindepth 1 -maxdepth 1 ! -name 'wp-6.5' -exec rm -rf {} + \
 # Of public/wp-6.5, assembly copies only the files its asset list names.
 && cd public/wp-6.5 \
 && find . -type f ! -name wordpress-remote-asset-paths ! -name .default_theme | sed 's#^\./##' \
    | grep -vxF -f wordpress-remote-asset-paths | tr '\n' '\0' | xargs -0 -r rm -f
# Packed: the assets into one ZIP (43 MB → 13 MB), php.wasm gzipped (27 MB → 10 MB); both read back as is.
RUN node scripts/pack-image-files.cjs node_modules/@wp-playground/wordpress-builds/public/wp-6.5 \
      node_modules/@php-wasm/node-8-5/jspi/8_5_10/php_8_5.wasm \
 && find node_modules/@wp-playground/wordpress-builds/public/wp-6.5 -type d -empty -delete
RUN node dist/server/wordpress/prefetch.js "$WORDPRESS_VERSION"

# --- runtime ------------------------------------------------------------------------------------
FROM node:24-bookworm-slim
ARG WORDPRESS_VERSION=latest
# GLIBC_TUNABLES: what bin/php-wasm-server.js sets (see server/malloc-tunables.ts): worker threads
# return freed memory (~100 MB less with 2 workers).
ENV NODE_ENV=production \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=4194304 \
    PHP_WASM_SERVER_WORDPRESS_VERSION=${WORDPRESS_VERSION} \
    PHP_WASM_SERVER_HOST=0.0.0.0 \
    PHP_WASM_SERVER_PORT=8087 \
    PHP_WASM_SERVER_PHP=8.5 \
    PHP_WASM_SERVER_DIR=/data/wordpress \
    PHP_WASM_SERVER_SESSION_DIR=/data/sessions \
    PHP_WASM_SERVER_OPCACHE_FILE_CACHE=/data/opcache \
    PHP_WASM_SERVER_ADMIN_PORT=9087 \
    PHP_WASM_SERVER_ADMIN_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist/server dist/server
COPY --from=build /app/bin bin
COPY --from=build /app/config config
COPY --from=build /app/docroot docroot
COPY --from=build /app/var/seed-cache var/seed-cache
# /uploads: where replicas mount their shared uploads (deploy/); a new named volume takes this owner.
RUN mkdir -p /data /uploads && chown node:node /data /uploads
USER node
VOLUME /data
EXPOSE 8087 9087
# Liveness from the admin listener: cheap (no WordPress boot every 30 s), and true while the server is busy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PHP_WASM_SERVER_ADMIN_PORT||9087)+'/healthz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=4", "dist/server/cli.js", "wordpress"]
