#!/bin/sh
# Installs what make bench-compare compares against, when missing: supervisord and gnuplot from
# Debian (apt-get, as root), pm2 from npm into build/bench-peers. A peer that cannot be
# installed is reported and left out of the comparison (gnuplot is required).
missing=""
command -v supervisord >/dev/null 2>&1 || missing="$missing supervisor"
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "bench-compare: apt-get install$missing"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing ||
			echo "bench-compare: could not install$missing" >&2
	else
		echo "bench-compare: missing$missing (run as root to install them)" >&2
	fi
fi
if [ ! -x build/bench-peers/node_modules/.bin/pm2 ]; then
	echo "bench-compare: npm install --prefix build/bench-peers pm2"
	mkdir -p build/bench-peers
	npm install --prefix build/bench-peers --no-audit --no-fund pm2 ||
		echo "bench-compare: could not install pm2: it is left out" >&2
fi
command -v gnuplot >/dev/null 2>&1 || { echo "bench-compare: gnuplot is required" >&2; exit 1; }
exit 0
