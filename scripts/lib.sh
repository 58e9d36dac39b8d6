# Shared by scripts/demo and scripts/test: check for tools, install Debian packages.
# shellcheck shell=bash

say() { printf 'phonehome setup: %s\n' "$*" >&2; }

require_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        say "cargo (Rust 1.85 or newer) is needed and was not found."
        say "Install it with: curl https://sh.rustup.rs -sSf | sh   (then open a new shell)"
        exit 1
    fi
}

# The command that runs apt-get as root (sudo when not root), or exits
# saying what to run by hand.
apt_cmd() {
    local pkgs=$1
    if ! command -v apt-get >/dev/null 2>&1; then
        say "needed: $pkgs; install it with your system's package manager and run again"
        exit 1
    fi
    APT=(env DEBIAN_FRONTEND=noninteractive apt-get)
    if [[ $(id -u) -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            say "the Debian package(s) $pkgs are needed; as root run: apt-get install -y --no-install-recommends $pkgs"
            exit 1
        fi
        APT=(sudo "${APT[@]}")
    fi
}

# `apt-get update` once per run, and only when an install needs it.
apt_updated=""
apt_update() {
    [[ -n $apt_updated ]] && return 0
    say "refreshing the package lists (apt-get update, about 10-60 s)"
    "${APT[@]}" update -q >/dev/null 2>&1 </dev/null || true
    apt_updated=1
}

# ensure_pkg PACKAGE PROBE [SECONDS]: PROBE is a command name or an absolute
# file path that exists once PACKAGE is installed; SECONDS is roughly how
# long the install takes on a fresh machine (said before the silent step).
# Recommends are left out: the tools and libraries run without them, and
# they are most of the download (chromium alone pulled in 115 packages).
ensure_pkg() {
    local pkg=$1 probe=$2 secs=${3:-20}
    if [[ $probe == /* ]]; then [[ -e $probe ]] && return 0; else command -v "$probe" >/dev/null 2>&1 && return 0; fi
    apt_cmd "$pkg"
    say "installing $pkg (for $probe; about $secs s)"
    # Never a debconf question (tshark asks about capture rights): the
    # default answer, through env because sudo drops the caller's environment.
    local install=("${APT[@]}" install -y -q --no-install-recommends "$pkg")
    if ! "${install[@]}" >/dev/null 2>&1 </dev/null; then
        apt_update
        if ! "${install[@]}" >/dev/null </dev/null; then
            say "could not install $pkg: install it by hand (apt-get install -y --no-install-recommends $pkg) and run again"
            exit 1
        fi
    fi
}

# A browser that really runs headless: Ubuntu's `chromium` and
# `chromium-browser` packages are wrappers that only say "install the snap".
# Prints the command; nothing when none works.
working_browser() {
    local b
    for b in ${PHONEHOME_CHROMIUM:-} chromium chromium-browser google-chrome-stable google-chrome microsoft-edge-stable; do
        command -v "$b" >/dev/null 2>&1 || continue
        if timeout 20 "$b" --headless --no-sandbox --disable-gpu --version 2>/dev/null | grep -qiE 'chrom|edge'; then
            command -v "$b"
            return 0
        fi
    done
}

# Sets PHONEHOME_CHROMIUM to a working headless Chromium or Chrome (the
# report tests render and print the HTML report with it), installing
# Debian's chromium when there is none; on Ubuntu, where no plain chromium
# package exists, says what to install instead.
ensure_browser() {
    local b
    b=$(working_browser)
    if [[ -z $b ]] && grep -qi '^ID=debian' /etc/os-release 2>/dev/null; then
        ensure_pkg chromium /usr/bin/chromium 90
        b=$(working_browser)
    fi
    if [[ -z $b ]]; then
        say "no working Chromium or Chrome found (the HTML report tests print the report with one)."
        if grep -qi '^ID=ubuntu' /etc/os-release 2>/dev/null; then
            say "Ubuntu's chromium package is only a wrapper for the snap: run 'sudo snap install chromium',"
            say "or install Google Chrome (https://www.google.com/chrome/, package google-chrome-stable),"
        else
            say "install chromium (Debian: apt-get install -y --no-install-recommends chromium) or Google Chrome,"
        fi
        say "then run again (or set PHONEHOME_CHROMIUM=/path/to/browser)."
        exit 1
    fi
    export PHONEHOME_CHROMIUM=$b
}
