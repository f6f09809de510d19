#!/usr/bin/env bash
# Builds the Docker image without a registry and runs it without a container runtime:
#   1. a Debian bookworm root filesystem made with debootstrap (cached outside the repo) becomes the base image;
#   2. `podman build --isolation=chroot` builds the Dockerfile on it, reaching PyPI the way this machine does;
#   3. the image's filesystem is exported and `earnings-bot run` starts from it under chroot as the image's user;
#   4. /healthz must answer and a transcript dropped into /data/inbox must come out as a digest.
# Needs root. Idempotent; mounts, the process and the work folder are cleaned up on exit.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
CACHE_DIR=${CONTAINER_TEST_CACHE:-/var/cache/earnings-bot-ci}
SUITE=bookworm
BASE_TAR="$CACHE_DIR/$SUITE-rootfs.tar"
BASE_IMAGE=localhost/earnings-bot-base:$SUITE
IMAGE=localhost/earnings-bot:container-test
TIMEOUT=${CONTAINER_TEST_TIMEOUT:-90}
WORK=""
BOT_PID=""
EXPORT_CTR=""
MOUNTS=()

log() { printf '[container-test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

cleanup() {
  local rc=$?
  if [ -n "$BOT_PID" ] && kill -0 "$BOT_PID" 2>/dev/null; then
    kill -TERM "$BOT_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$BOT_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$BOT_PID" 2>/dev/null || true
  fi
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -l "${MOUNTS[$i]}" 2>/dev/null || true
  done
  [ -n "$EXPORT_CTR" ] && podman rm -f "$EXPORT_CTR" >/dev/null 2>&1
  [ -n "$WORK" ] && rm -rf --one-file-system "$WORK"
  exit "$rc"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, podman and chroot need it)"

need=()
command -v podman >/dev/null || need+=(podman)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The Debian mirror this machine's apt uses (deb822 .sources first, then one-line lists).
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END { if (uri != "" && ok) print uri }' "$f" | grep -v -- '-security' | head -n 1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == suite) { u = $(i - 1); print u; exit } }' "$f"
  done
}
MIRROR=$(mirror | grep -E '^https?://' | head -n 1 || true)
[ -n "$MIRROR" ] || die "no Debian $SUITE mirror found in /etc/apt/sources.list{,.d}"

start=$(date +%s)
mkdir -p "$CACHE_DIR"
WORK=$(mktemp -d /tmp/earnings-bot-ct.XXXXXX)

# 1. Base root filesystem (cached) and base image.
if [ ! -s "$BASE_TAR" ]; then
  log "debootstrap $SUITE from $MIRROR (cached in $CACHE_DIR afterwards)"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    "$SUITE" "$WORK/base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$WORK/base/var/cache/apt/archives/"*.deb "$WORK/base/var/lib/apt/lists/"*
  tar -C "$WORK/base" --numeric-owner -cf "$BASE_TAR.part" .
  mv "$BASE_TAR.part" "$BASE_TAR"
  rm -rf --one-file-system "$WORK/base"
  podman rmi -f "$BASE_IMAGE" >/dev/null 2>&1 || true
fi
if ! podman image exists "$BASE_IMAGE"; then
  log "importing $BASE_TAR as $BASE_IMAGE"
  podman import --change 'CMD ["/bin/bash"]' "$BASE_TAR" "$BASE_IMAGE" >/dev/null
fi

# 2. Build the image, with this machine's CA bundle and pip configuration.
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!var:-}" ] && build_args+=(--build-arg "$var=${!var}")
done
volumes=()
CA_BUNDLE=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
[ -f "$CA_BUNDLE" ] && volumes+=(-v "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro")
[ -f /etc/pip.conf ] && volumes+=(-v /etc/pip.conf:/etc/pip.conf:ro)
[ -d /etc/xdg/pip ] && volumes+=(-v /etc/xdg/pip:/etc/xdg/pip:ro)
log "building $IMAGE"
previous=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman build --isolation=chroot --network host --format docker --layers=false \
  "${build_args[@]}" "${volumes[@]}" -t "$IMAGE" -f "$ROOT_DIR/Dockerfile" "$ROOT_DIR" >"$WORK/build.log" 2>&1 \
  || { tail -n 40 "$WORK/build.log" >&2; die "podman build failed"; }
built=$(date +%s)
current=$(podman image inspect --format '{{.Id}}' "$IMAGE")
# The previous build of this script, now untagged, would pile up run after run.
[ -n "$previous" ] && [ "$previous" != "$current" ] && podman rmi "$previous" >/dev/null 2>&1 || true

# 3. Export the image's filesystem and start the service from it under chroot, as the image's user.
EXPORT_CTR=$(podman create "$IMAGE" 2>>"$WORK/podman.log")
mkdir -p "$WORK/rootfs"
podman export "$EXPORT_CTR" | tar -C "$WORK/rootfs" -xf -
podman rm -f "$EXPORT_CTR" >/dev/null 2>>"$WORK/podman.log"
EXPORT_CTR=""

R="$WORK/rootfs"
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
workdir=$(podman image inspect --format '{{.Config.WorkingDir}}' "$IMAGE")
mapfile -t image_env < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | grep .)
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || die "the image must run as a non-root user (USER is '$user')"
uid=$(awk -F: -v u="$user" '$1 == u || $3 == u { print $3; exit }' "$R/etc/passwd")
gid=$(awk -F: -v u="$user" '$1 == u || $3 == u { print $4; exit }' "$R/etc/passwd")
[ -n "$uid" ] || die "user $user not found in the image's /etc/passwd"
podman image inspect --format '{{.Config.Healthcheck}}' "$IMAGE" | grep -q healthz || die "image has no HEALTHCHECK on /healthz"

for m in proc dev; do
  mkdir -p "$R/$m"
  if [ "$m" = proc ]; then mount -t proc proc "$R/proc"; else mount --bind /dev "$R/dev"; fi
  MOUNTS+=("$R/$m")
done

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(printf '%s\n' "${image_env[@]}" | sed -n 's/^INBOX_DIR=//p')
[ -n "$data" ] || die "image sets no INBOX_DIR"
mkdir -p "$R$data"
chown -R "$uid:$gid" "$R/data"

log "starting earnings-bot run from the image (user $user, port $port)"
env -i "${image_env[@]}" PORT="$port" HOST=127.0.0.1 HOME=/tmp \
  chroot --userspec="$uid:$gid" "$R" /bin/sh -c "cd '${workdir:-/}' && exec earnings-bot run" \
  >"$WORK/bot.out" 2>"$WORK/bot.err" &
BOT_PID=$!

url="http://127.0.0.1:$port"
deadline=$(($(date +%s) + TIMEOUT))
until curl -fsS "$url/healthz" >/dev/null 2>&1; do
  kill -0 "$BOT_PID" 2>/dev/null || { tail -n 30 "$WORK/bot.err" >&2; die "the service exited before /healthz answered"; }
  [ "$(date +%s)" -lt "$deadline" ] || { tail -n 30 "$WORK/bot.err" >&2; die "/healthz did not answer in ${TIMEOUT}s"; }
  sleep 0.5
done
log "/healthz answers 200"

# The image ships the compiled extractor (Dockerfile COMPILE=1): check it is the one that runs.
compiled=$(env -i "${image_env[@]}" HOME=/tmp chroot --userspec="$uid:$gid" "$R" /opt/venv/bin/python -c \
  'import bot.extract.amounts as m; print(m.__file__)')
[[ "$compiled" == *.so ]] || die "the image's extractor is not compiled ($compiled)"
log "the image's extractor is compiled ($compiled)"

# 4. A small made-up transcript (no real document is copied here) must become a digest.
install -o "$uid" -g "$gid" -m 0644 /dev/stdin "$R$data/acme-q2-2024-call.txt" <<'TRANSCRIPT'
Acme Widgets (ACMW) Second Quarter 2024 Earnings Call

Operator
Good day, and welcome to the Acme Widgets second quarter 2024 earnings conference call.

Jane Doe - Chief Financial Officer
Thank you, operator. Total revenues were $1,234.5 million, an increase of 12.5% year-over-year.
Gross margin was 41.2%, up 1.5 percentage points from the same quarter last year.
Net income was $98.7 million, compared with $80.1 million in the same period last year.
For the third quarter, we expect total revenues between $1,250 million and $1,300 million.
TRANSCRIPT

deadline=$(($(date +%s) + TIMEOUT))
until grep -q '1,234.5' "$WORK/bot.out" 2>/dev/null && [[ "$(curl -fsS "$url/" 2>/dev/null)" == *"Acme Widgets"* ]]; do
  kill -0 "$BOT_PID" 2>/dev/null || { tail -n 30 "$WORK/bot.err" >&2; die "the service exited"; }
  [ "$(date +%s)" -lt "$deadline" ] || {
    tail -n 30 "$WORK/bot.err" >&2
    die "no digest for the inbox transcript in ${TIMEOUT}s (console output and status page checked)"
  }
  sleep 1
done
log "the digest appeared in the console output and on the status page"
curl -fsS "$url/readyz" >/dev/null || die "/readyz is not 200"
metrics=$(curl -fsS "$url/metrics") || die "/metrics did not answer"
grep -q '^earnings_bot_documents_total{source="inbox"} 1.0' <<<"$metrics" || die "/metrics does not count the document"

kill -TERM "$BOT_PID"
wait "$BOT_PID" && status=0 || status=$?
BOT_PID=""
[ "$status" -eq 0 ] || { tail -n 30 "$WORK/bot.err" >&2; die "SIGTERM exit status was $status, not 0"; }
grep -q . "$WORK/bot.err" && ! grep -v '^{' "$WORK/bot.err" | grep -q . || die "stderr holds lines that are not JSON"

log "OK: image built in $((built - start))s, whole run $(($(date +%s) - start))s"
