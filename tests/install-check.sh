#!/bin/sh
# make install-check: install into a temporary DESTDIR, then run the installed devsup through a
# start and a stop (it must find its reaper beside it), and check that --help and the man page
# name the same flags.
set -eu
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
make -s install DESTDIR="$dest" PREFIX=/usr >/dev/null
for f in usr/bin/devsup usr/bin/devsup-reaper usr/share/man/man1/devsup.1 \
	 usr/share/devsup/sql/001_schema.sql; do
	[ -f "$dest/$f" ] || { echo "install-check: $f was not installed" >&2; exit 1; }
done
bin="$dest/usr/bin/devsup"
"$bin" --version | grep -q '^devsup [0-9]' || { echo "install-check: --version" >&2; exit 1; }
# every flag of the man page's synopsis is in --help, and the other way round
man_flags=$(sed -n '/^.SH SYNOPSIS/,/^.SH DESCRIPTION/p' docs/devsup.1 | sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z-]*' | sort -u)
help_flags=$("$bin" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
if [ "$man_flags" != "$help_flags" ]; then
	echo "install-check: --help and docs/devsup.1 disagree on the flags:" >&2
	printf 'man:  %s\nhelp: %s\n' "$(echo $man_flags)" "$(echo $help_flags)" >&2
	exit 1
fi
# start, wait for dev-server-started, stop, wait for dev-server-stopped: events, not sleeps
BIN="$bin" TINY="$PWD/build/tiny-server" node --input-type=module -e '
import { spawn } from "node:child_process";
import readline from "node:readline";
const d = spawn(process.env.BIN, ["--no-tty", "--runner-id", `install-check-${process.pid}`, "--log-level", "warn"],
  { stdio: ["pipe", "pipe", "inherit"] });
const fail = (why) => { console.error(`install-check: ${why}`); d.kill("SIGKILL"); process.exit(1); };
setTimeout(() => fail("no answer within 60 s"), 60000).unref();
const send = (o) => d.stdin.write(JSON.stringify(o) + "\n");
readline.createInterface({ input: d.stdout }).on("line", (l) => {
  const e = JSON.parse(l);
  if (e.type === "ready") send({ type: "start-dev-server", id: "s", projectId: "install-check", command: [process.env.TINY], cwd: "/tmp" });
  else if (e.type === "error") fail(l);
  else if (e.type === "dev-server-started") send({ type: "stop-dev-server", id: "x", projectId: "install-check" });
  else if (e.type === "dev-server-stopped") d.stdin.end();
});
d.on("exit", (code) => (code === 0 ? process.exit(0) : fail(`devsup exited ${code}`)));
'
echo "install-check: ok ($(echo "$help_flags" | wc -l) flags documented; installed devsup started and stopped a server)"
