#!/bin/sh
# Installs the Debian packages devsup needs to build and test, once. Idempotent: checks with
# dpkg first, so a machine that has them never touches apt. Used by make deps and .ci/run.
set -e
# libedit-dev: the terminal front end's line editing; tmux and bsdutils (script): its tests
# drive it through a pseudo-terminal. pgbouncer: the persistence test behind a transaction pool.
pkgs="build-essential pkg-config libev-dev libjansson-dev libpq-dev libedit-dev check procps clang
      libclang-rt-14-dev tmux bsdutils valgrind postgresql-15 postgresql-client-15 pgbouncer"
missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# Node and npm may come from elsewhere than Debian (npm 11 is needed for Vite 8, Debian's is
# older): what matters is a node and an npm on PATH; only install Debian's when there is none.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "devsup: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "devsup: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
