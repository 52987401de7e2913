#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need.
# Idempotent: packages already present are not fetched again, and the package
# index is refreshed at most once per machine boot unless something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libyaml-cpp-dev nlohmann-json3-dev libsqlite3-dev sqlite3 libpq-dev libssl-dev
  libzstd-dev libfmt-dev libspdlog-dev libcli11-dev libgtest-dev libgmock-dev
  libbenchmark-dev libxxhash-dev libmurmurhash-dev
  # RE2: Go's regular expression syntax (PromQL matchers, label_replace, alert routes).
  libre2-dev
  # nghttp2: HTTP/2 on the proxy's HTTPS listeners (src/proxy/h2_conn.h); nghttp2-client's
  # h2load drives bench/tls.sh over h2.
  libnghttp2-dev nghttp2-client
  # jemalloc: the allocator of the slipway binary (CMakeLists.txt, SLIPWAY_MALLOC).
  libjemalloc-dev
  # clang: the fuzzers (scripts/fuzz.sh); clang-tidy and clang-format: scripts/tidy.sh and
  # scripts/format.sh. The sanitizer builds (scripts/sanitize.sh) use gcc's libasan, libubsan
  # and libtsan, which build-essential brings.
  clang libclang-rt-14-dev clang-tidy clang-format
  postgresql-15 postgresql-client-15
  python3 curl procps
  # /usr/bin/time: scripts/step.sh reports each `make test` step's CPU seconds.
  time
  # The migration tool tests (tests/migrate_tool_test.cc): a real Alembic project on SQLite
  # and PostgreSQL.
  alembic python3-alembic python3-psycopg2
  prometheus prometheus-alertmanager
  # Container runtime tests (see ContainerTest.PodmanRunsABusyboxImage): podman with runc,
  # and busybox-static to build a tiny test image without a registry.
  podman runc slirp4netns uidmap conmon catatonit containernetworking-plugins iptables
  busybox-static
  # Outgoing HTTPS (src/tlsclient) and the ACME client's end-to-end tests against Pebble,
  # Let's Encrypt's test server (src/acme/pebble_test.cc, tests/acme_e2e_test.cc).
  libcurl4-openssl-dev pebble
  # The dashboard's browser tests (tests/ui): playwright-core drives Debian's Chromium (npm's
  # own browser download is never used).
  chromium
)

# The OpenFeature SDK and Kubernetes schema suites run on Node.js; the machine may ship its
# own node and npm, else Debian's are installed.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
