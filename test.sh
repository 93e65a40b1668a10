#!/usr/bin/env bash
# Runs every check and test, as CI does. Installs what a fresh Debian
# machine lacks (needs root or sudo for apt-get), then: rustfmt, clippy,
# the whole test suite with cargo-nextest (real sockets, real clients),
# the doc tests, and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")"

apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

missing=()
command -v swaks >/dev/null 2>&1 || missing+=(swaks)
command -v mbsync >/dev/null 2>&1 || missing+=(isync)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# The LDAP directory's tests start a private slapd (in /usr/sbin, which a
# non-root PATH may lack) and load its base entry with slapadd.
{ command -v slapd || [ -x /usr/sbin/slapd ]; } >/dev/null 2>&1 || missing+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || missing+=(ldap-utils)
# `ss`, which the bench's connection counter (and its tests) read.
command -v ss >/dev/null 2>&1 || missing+=(iproute2)
# The dynamic cluster's tests start private etcd nodes (testkit::etcd);
# etcd-client's build compiles etcd's gRPC definitions with protoc.
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
# The browser tests (testkit::browser) drive headless Chromium through
# chromedriver over WebDriver.
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    apt_install "${missing[@]}"
fi
# imapclient drives one of the IMAP client scenarios. Debian's package
# serves only Debian's own python3, and is not in every release (not in
# bookworm): otherwise pip installs it for the python3 the tests run.
if ! python3 -c "import imapclient" >/dev/null 2>&1; then
    echo "== installing imapclient"
    if [ "$(command -v python3)" = /usr/bin/python3 ] && apt-cache show python3-imapclient >/dev/null 2>&1; then
        apt_install python3-imapclient
    else
        python3 -m pip install --quiet imapclient
    fi
fi
# aiosmtpd is the remote SMTP server of the outbound tests (PyPI).
if ! python3 -c "import aiosmtpd" >/dev/null 2>&1; then
    echo "== installing aiosmtpd"
    if [ "$(command -v python3)" = /usr/bin/python3 ] && apt-cache show python3-aiosmtpd >/dev/null 2>&1; then
        apt_install python3-aiosmtpd
    else
        python3 -m pip install --quiet aiosmtpd
    fi
fi
# openapi-spec-validator checks the admin API's OpenAPI document and real
# answers against it (crates/web/tests/openapi.rs; PyPI).
if ! python3 -c "import openapi_spec_validator, openapi_schema_validator" >/dev/null 2>&1; then
    echo "== installing openapi-spec-validator"
    if [ "$(command -v python3)" = /usr/bin/python3 ] && apt-cache show python3-openapi-spec-validator >/dev/null 2>&1; then
        apt_install python3-openapi-spec-validator
    else
        python3 -m pip install --quiet openapi-spec-validator
    fi
fi
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "== installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== tests"
cargo nextest run --workspace --no-fail-fast
echo "== doc tests"
cargo test --workspace --doc --quiet

# A short run of every fuzz target (crates/*/fuzz). cargo-fuzz needs a
# nightly toolchain; the machines this project runs on have one.
echo "== fuzz (${FUZZ_SECONDS:-20} s per target)"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
    for fuzz_dir in crates/*/fuzz; do
        for target in $(cd "$fuzz_dir/.." && cargo +nightly fuzz list); do
            echo "-- $fuzz_dir: $target"
            # Committed seeds (fuzz/seeds/<target>) start the run from
            # inputs that reach deep into the protocol.
            seeds=()
            if [ -d "$fuzz_dir/seeds/$target" ]; then
                mkdir -p "$fuzz_dir/corpus/$target"
                seeds=("fuzz/corpus/$target" "fuzz/seeds/$target")
            fi
            (cd "$fuzz_dir/.." && cargo +nightly fuzz run "$target" "${seeds[@]}" -- -max_total_time="${FUZZ_SECONDS:-20}")
        done
    done
else
    echo "no nightly toolchain: fuzz runs skipped"
fi
