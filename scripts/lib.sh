# Shared by scripts/run, scripts/test and scripts/build: install what is
# missing, build libcoap from Debian's source, build the project.
# Every step checks first and does nothing when its result is current.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LWM2M_HIL_BUILD:-$ROOT/build}
DEPS=$BUILD/deps
# Debian's interpreter: it is the one python3-pytest and pybind11 belong to.
PYTHON=/usr/bin/python3

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  dpkg-dev patch xz-utils bzip2  # apt-get source: unpack and patch libcoap
  python3 python3-dev python3-pytest pybind11-dev
  libmbedtls-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  clang libclang-rt-14-dev  # ASan/UBSan and libFuzzer builds
  tshark
)

log() { printf '\033[1m[lwm2m-hil]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  # tshark asks whether non-root users may capture; the default (no) is fine.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# libcoap 4.3.1 with the mbedTLS backend: Debian ships binaries built against
# OpenSSL/GnuTLS only, so we build its source package, statically and PIC.
LIBCOAP_VERSION=4.3.1-1
LIBCOAP_PREFIX=$DEPS/libcoap
SRC_LIST=/etc/apt/sources.list.d/lwm2m-hil-src.sources

libcoap_stamp() {
  cat "$ROOT"/emulator/coap/patches/*.patch | sha256sum | cut -c1-16
  echo "$LIBCOAP_VERSION"
}

build_libcoap() {
  local stamp="$LIBCOAP_PREFIX/.stamp"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(libcoap_stamp)" ]; then return 0; fi
  if [ ! -f "$SRC_LIST" ]; then
    log "adding a deb-src entry in $SRC_LIST"
    as_root tee "$SRC_LIST" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    as_root apt-get update -qq
  fi
  local work=$DEPS/libcoap-src
  rm -rf "$work" "$LIBCOAP_PREFIX"
  mkdir -p "$work"
  log "fetching libcoap3 $LIBCOAP_VERSION source"
  (cd "$work" && apt-get source -qq "libcoap3=$LIBCOAP_VERSION" >/dev/null 2>&1)
  local src
  src=$(find "$work" -maxdepth 1 -type d -name 'libcoap3-*' | head -n1)
  for p in "$ROOT"/emulator/coap/patches/*.patch; do
    patch -s -p1 -d "$src" <"$p"
  done
  log "building libcoap (mbedTLS backend, static, PIC)"
  cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$LIBCOAP_PREFIX" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DBUILD_SHARED_LIBS=OFF -DENABLE_DTLS=ON -DDTLS_BACKEND=mbedtls \
    -DENABLE_TCP=OFF -DENABLE_EXAMPLES=OFF -DENABLE_DOCS=OFF -DENABLE_TESTS=OFF \
    -DWITH_EPOLL=ON -Wno-dev >/dev/null
  cmake --build "$work/build" >/dev/null
  cmake --install "$work/build" >/dev/null
  libcoap_stamp >"$stamp"
}

# $1: build directory, rest: extra CMake arguments.
build_project() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$ROOT" -B "$dir" -G Ninja --no-warn-unused-cli -DCMAKE_PREFIX_PATH="$LIBCOAP_PREFIX" \
      -DPython3_EXECUTABLE="$PYTHON" "$@" >/dev/null
  fi
  cmake --build "$dir"
}

prepare() {
  install_packages
  build_libcoap
  build_project "$BUILD/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  export PYTHONPATH="$BUILD/release/python${PYTHONPATH:+:$PYTHONPATH}"
}
