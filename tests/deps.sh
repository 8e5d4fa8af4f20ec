#!/bin/sh
# Installs the Debian packages devsup needs to build and test, once. Idempotent: checks with
# dpkg first, so a machine that has them never touches apt.
set -e
pkgs="build-essential pkg-config libev-dev libjansson-dev libpq-dev check nodejs"
missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# Node may come from elsewhere than Debian's package; what matters is a node on PATH.
if command -v node >/dev/null 2>&1; then missing=$(echo "$missing" | sed 's/ nodejs//'); fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "devsup: missing packages:$missing (run as root or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "devsup: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
