# Shared by scripts/run, scripts/test and scripts/build: install what is
# missing, build mbedTLS and libcoap from Debian's source, build the project.
# Every step checks first and does nothing when its result is current.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LWM2M_HIL_BUILD:-$ROOT/build}
DEPS=$BUILD/deps
# Debian's interpreter: it is the one python3-pytest and pybind11 belong to.
PYTHON=/usr/bin/python3

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  dpkg-dev patch xz-utils bzip2  # apt-get source: unpack and patch libcoap, mbedTLS
  python3 python3-dev python3-pytest pybind11-dev
  python3-pytest-xdist  # scripts/test runs pytest on every core
  python3-cbor2  # an independent SenML-CBOR codec for the tests
  python3-cryptography  # certificate mode: the test CA (lwm2m_hil.certs)
  nlohmann-json3-dev libgtest-dev libgmock-dev
  libexpat1-dev  # users' DDF object files (emulator/lwm2m/objects/)
  clang libclang-rt-14-dev  # ASan/UBSan and libFuzzer builds
  tshark
  nftables iproute2  # the radio's egress to servers on other hosts (emulator/radio/README.md)
  # campaigns: Dask runs them, matplotlib + jinja2 write the report, rich
  # draws progress, Chromium renders the report in its test
  python3-dask python3-distributed python3-matplotlib python3-jinja2 python3-rich chromium
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

SRC_LIST=/etc/apt/sources.list.d/lwm2m-hil-src.sources

# The machine's own apt sources, as deb-src stanzas: the same archives (a
# machine behind its own mirror keeps it), suites, components and keys.
# deb822 files (*.sources) and one-line lists (sources.list, *.list) both.
deb_src_stanzas() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && [ "$f" != "$SRC_LIST" ] || continue
    awk 'BEGIN { RS=""; ORS="\n\n" }
      /(^|\n)Enabled: *no/ { next }
      /(^|\n)Types:[^\n]*deb([ \n]|$)/ { sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { $1 = "deb-src"; print }' "$f"
  done | deb_src_from_one_line
}

# One-line "deb-src [opts] URI SUITE COMPONENT..." entries as deb822 stanzas.
deb_src_from_one_line() {
  awk '/^deb-src/ {
    opts = ""; i = 2
    if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
    printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents:", $i, $(i + 1)
    for (j = i + 2; j <= NF; j++) printf " %s", $j
    if (opts ~ /signed-by=/) { match(opts, /signed-by=[^ \]]*/); printf "\nSigned-By: %s", substr(opts, RSTART + 10, RLENGTH - 10) }
    printf "\n\n"
  }'
}

add_source_list() {
  local wanted
  wanted=$(deb_src_stanzas)
  [ -n "$wanted" ] || { log "no apt 'deb' source on this machine to derive a deb-src entry from (/etc/apt/sources.list*)"; exit 1; }
  [ -f "$SRC_LIST" ] && [ "$(cat "$SRC_LIST")" = "$wanted" ] && return 0
  log "adding deb-src entries for this machine's apt sources in $SRC_LIST"
  printf '%s\n' "$wanted" | as_root tee "$SRC_LIST" >/dev/null
  as_root apt-get update -qq
}

# $1: Debian source package=version, $2: where to unpack it. Prints the
# unpacked source tree; apt's own messages go to stderr, and a failure stops.
fetch_source() {
  rm -rf "$2"
  mkdir -p "$2"
  log "fetching $1 source"
  (cd "$2" && apt-get source -qq "$1" >/dev/null) || { log "apt-get source $1 failed (see above)"; exit 1; }
  local tree
  tree=$(find "$2" -maxdepth 1 -mindepth 1 -type d | head -n1)
  [ -n "$tree" ] || { log "apt-get source $1 unpacked nothing into $2"; exit 1; }
  echo "$tree"
}

# mbedTLS 2.28 from Debian's source, static and PIC, with 4 KiB record
# buffers instead of 16 KiB: LwM2M messages are far smaller, and a fleet
# holds up to four DTLS sessions per device (both sides, bootstrap and
# registration). Measured: 135 KiB per DTLS device with Debian's build,
# 71 KiB with this one (tests/bench/README.md).
MBEDTLS_VERSION=2.28.3-1
MBEDTLS_PREFIX=$DEPS/mbedtls
MBEDTLS_CONFIG=(
  MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD  # as Debian's: loops are threads
  "MBEDTLS_SSL_IN_CONTENT_LEN 4096" "MBEDTLS_SSL_OUT_CONTENT_LEN 4096"
)

mbedtls_stamp() { echo "$MBEDTLS_VERSION ${MBEDTLS_CONFIG[*]}"; }

build_mbedtls() {
  local stamp="$MBEDTLS_PREFIX/.stamp"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(mbedtls_stamp)" ]; then return 0; fi
  add_source_list
  local work=$DEPS/mbedtls-src src setting
  rm -rf "$MBEDTLS_PREFIX"
  src=$(fetch_source "mbedtls=$MBEDTLS_VERSION" "$work")
  for setting in "${MBEDTLS_CONFIG[@]}"; do
    # shellcheck disable=SC2086  # "NAME VALUE" is two arguments
    "$PYTHON" "$src/scripts/config.py" -f "$src/include/mbedtls/config.h" set $setting
  done
  log "building mbedTLS (static, PIC, 4 KiB records)"
  cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$MBEDTLS_PREFIX" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON \
    -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF -Wno-dev >/dev/null
  cmake --build "$work/build" >/dev/null
  cmake --install "$work/build" >/dev/null
  mbedtls_stamp >"$stamp"
}

# libcoap 4.3.1 with the mbedTLS backend: Debian ships binaries built against
# OpenSSL/GnuTLS only, so we build its source package, statically and PIC.
LIBCOAP_VERSION=4.3.1-1
LIBCOAP_PREFIX=$DEPS/libcoap

libcoap_stamp() {
  cat "$ROOT"/emulator/coap/patches/*.patch | sha256sum | cut -c1-16
  echo "$LIBCOAP_VERSION"
  mbedtls_stamp
}

build_libcoap() {
  build_mbedtls
  local stamp="$LIBCOAP_PREFIX/.stamp"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(libcoap_stamp)" ]; then return 0; fi
  add_source_list
  local work=$DEPS/libcoap-src src p lib
  rm -rf "$LIBCOAP_PREFIX"
  src=$(fetch_source "libcoap3=$LIBCOAP_VERSION" "$work")
  for p in "$ROOT"/emulator/coap/patches/*.patch; do
    patch -s -p1 -d "$src" <"$p"
  done
  log "building libcoap (mbedTLS backend, static, PIC)"
  lib=$MBEDTLS_PREFIX/lib
  cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$LIBCOAP_PREFIX" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DBUILD_SHARED_LIBS=OFF -DENABLE_DTLS=ON -DDTLS_BACKEND=mbedtls \
    -DMBEDTLS_INCLUDE_DIRS="$MBEDTLS_PREFIX/include" -DMBEDTLS_LIBRARY="$lib/libmbedtls.a" \
    -DMBEDX509_LIBRARY="$lib/libmbedx509.a" -DMBEDCRYPTO_LIBRARY="$lib/libmbedcrypto.a" \
    -DENABLE_TCP=OFF -DENABLE_EXAMPLES=OFF -DENABLE_DOCS=OFF -DENABLE_TESTS=OFF \
    -DWITH_EPOLL=ON -Wno-dev >/dev/null
  cmake --build "$work/build" >/dev/null
  cmake --install "$work/build" >/dev/null
  libcoap_stamp >"$stamp"
}

# $1: build directory, rest: extra CMake arguments.
# Configures again whenever the arguments differ from the last configuration's.
build_project() {
  local dir=$1; shift
  local args=(-G Ninja --no-warn-unused-cli -DCMAKE_PREFIX_PATH="$LIBCOAP_PREFIX;$MBEDTLS_PREFIX"
    -DPython3_EXECUTABLE="$PYTHON" "$@")
  local stamp="$dir/.configured-with"
  if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${CC:-} ${CXX:-} ${args[*]}" ]; then
    cmake -S "$ROOT" -B "$dir" "${args[@]}" >/dev/null
    echo "${CC:-} ${CXX:-} ${args[*]}" >"$stamp"
  fi
  cmake --build "$dir"
}

prepare() {
  install_packages
  build_libcoap
  build_project "$BUILD/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  export PYTHONPATH="$BUILD/release/python${PYTHONPATH:+:$PYTHONPATH}"
}
