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

# ensure_pkg PACKAGE PROBE: PROBE is a command name or an absolute file path
# that exists once PACKAGE is installed.
ensure_pkg() {
    local pkg=$1 probe=$2
    if [[ $probe == /* ]]; then [[ -e $probe ]] && return 0; else command -v "$probe" >/dev/null 2>&1 && return 0; fi
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            say "the Debian package '$pkg' is needed; run as root: apt-get install -y $pkg"
            exit 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "the package '$pkg' (providing $probe) is needed; install it with your system's package manager"
        exit 1
    fi
    say "installing $pkg (for $probe)"
    # Never a debconf question (tshark asks about capture rights): the default
    # answer; set through env because sudo drops the caller's environment.
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
    if ! { $sudo "${apt[@]}" install -y -q "$pkg" >/dev/null 2>&1 </dev/null || { $sudo "${apt[@]}" update -q >/dev/null 2>&1 && $sudo "${apt[@]}" install -y -q "$pkg" >/dev/null </dev/null; }; }; then
        say "could not install $pkg: install it by hand (apt-get install -y $pkg) and run again"
        exit 1
    fi
}
