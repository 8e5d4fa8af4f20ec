#include "supervisor/options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/envfilter.h"
#include "common/util.h"
#include "supervisor/tunnel_config.h"

static const char usage[] =
	"usage: devsup [options]\n"
	"\n"
	"Supervises development servers (npm run dev, next dev, vite, ...) for a Node.js API that\n"
	"speaks NDJSON with it on stdin/stdout. See docs/protocol.md. Run in a terminal, it is an\n"
	"interactive front end instead: type 'help'.\n"
	"\n"
	"  --db URL                 Postgres URL for persistence (default: $DATABASE_URL)\n"
	"  --db-queue-max N         transitions kept while Postgres is away (default: 100000)\n"
	"  --runner-id ID           identity of this runner (default: the host name)\n"
	"  --port-range LO-HI       ports to allocate from (default: 3000-3999)\n"
	"  --max-projects N         live projects at most (default: 256)\n"
	"  --max-line BYTES         longest input line (default: 1048576)\n"
	"  --reaper PATH            devsup-reaper executable (default: beside devsup)\n"
	"  --tunnel-bin PROVIDER=PATH\n"
	"                           executable of a tunnel provider (repeatable)\n"
	"  --tunnel-default PROVIDER\n"
	"                           provider for \"tunnel\": true (default: cloudflared)\n"
	"  --tty | --no-tty         force the interactive front end on or off (default: on when\n"
	"                           stdin is a terminal)\n"
	"  --log-level LEVEL        debug, info, warn, error or off, on stderr (default: info;\n"
	"                           warn in the interactive front end)\n"
	"  --state-dir DIR          where the runner lock and port reservations live (default:\n"
	"                           $XDG_RUNTIME_DIR/devsup, else /run/devsup as root, else\n"
	"                           /tmp/devsup-UID); devsups sharing a port range share it\n"
	"  --env-allow NAME,...     what dev servers inherit of devsup's environment when a start\n"
	"                           gives no inheritEnv (default: everything; a trailing * is a\n"
	"                           prefix); DATABASE_URL, PG* and DEVSUP_* are never passed on\n"
	"  --adopt-timeout SECONDS  after a detach, how long the projects wait for a new devsup\n"
	"                           with the same runner id (default: 300)\n"
	"  --no-cgroup              contain projects by /proc walks only, even where devsup could\n"
	"                           create cgroups (default: a cgroup per project when it can)\n"
	"  --migrate                apply the database migrations and exit\n"
	"  --no-listen-trap         find when a server listens by polling, not through a seccomp\n"
	"                           listen() notification (which sets no_new_privs on its tree)\n"
	"  --version                print the version and exit\n"
	"  --help                   print this help and exit\n"
	"\n"
	"Environment: DATABASE_URL (as --db), NO_COLOR (no colour in the front end).\n"
	"Exit codes: 0 after a clean shutdown, 2 for bad flags, 1 for a fatal error, 3 when\n"
	"another live devsup holds this runner id (the terminal front end takes ID-2, ID-3, ...).\n"
	"Manual: man devsup; docs/ in the source tree.\n";

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_port_range(const char *s, int *lo, int *hi)
{
	char buf[64];
	unsigned long long a, b;
	snprintf(buf, sizeof(buf), "%s", s);
	char *dash = strchr(buf, '-');
	if (!dash)
		return false;
	*dash = '\0';
	if (!parse_uint(buf, 65535, &a) || !parse_uint(dash + 1, 65535, &b) || a == 0 || a > b)
		return false;
	*lo = (int)a;
	*hi = (int)b;
	return true;
}

static void default_reaper_path(char *buf, size_t n)
{
	char self[PATH_MAX - 32];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		snprintf(buf, n, "devsup-reaper");
		return;
	}
	self[len] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, n, "%s/devsup-reaper", self);
}

static bool __attribute__((format(printf, 1, 2))) bad(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "devsup: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'devsup --help'.\n");
	return false;
}

options_result_t options_parse(int argc, char **argv, options_t *o)
{
	enum { O_DB = 256, O_DBQ, O_RUNNER, O_RANGE, O_MAXP, O_MAXL, O_REAPER, O_TBIN, O_TDEF,
	       O_TTY, O_NOTTY, O_LOG, O_MIGRATE, O_ADOPT, O_VERSION, O_HELP, O_STATE_DIR, O_ENV_ALLOW,
	       O_NO_TRAP, O_NOCGROUP };
	static const struct option longopts[] = {
		{"db", required_argument, 0, O_DB},
		{"db-queue-max", required_argument, 0, O_DBQ},
		{"runner-id", required_argument, 0, O_RUNNER},
		{"port-range", required_argument, 0, O_RANGE},
		{"max-projects", required_argument, 0, O_MAXP},
		{"max-line", required_argument, 0, O_MAXL},
		{"reaper", required_argument, 0, O_REAPER},
		{"tunnel-bin", required_argument, 0, O_TBIN},
		{"tunnel-default", required_argument, 0, O_TDEF},
		{"tty", no_argument, 0, O_TTY},
		{"no-tty", no_argument, 0, O_NOTTY},
		{"log-level", required_argument, 0, O_LOG},
		{"migrate", no_argument, 0, O_MIGRATE},
		{"state-dir", required_argument, 0, O_STATE_DIR},
		{"env-allow", required_argument, 0, O_ENV_ALLOW},
		{"no-listen-trap", no_argument, 0, O_NO_TRAP},
		{"adopt-timeout", required_argument, 0, O_ADOPT},
		{"no-cgroup", no_argument, 0, O_NOCGROUP},
		{"version", no_argument, 0, O_VERSION},
		{"help", no_argument, 0, O_HELP},
		{0, 0, 0, 0},
	};
	memset(o, 0, sizeof(*o));
	o->db_url = getenv("DATABASE_URL");
	if (o->db_url && !*o->db_url)
		o->db_url = NULL;
	if (gethostname(o->runner_id, sizeof(o->runner_id) - 1) < 0 || !o->runner_id[0])
		snprintf(o->runner_id, sizeof(o->runner_id), "devsup");
	o->port_lo = 3000;
	o->port_hi = 3999;
	o->max_projects = 256;
	o->db_queue_max = 100000;
	o->max_line = 1024 * 1024;
	o->tunnel_default = "cloudflared";
	o->tty = -1;
	o->log_level = LOG_LEVEL_INFO;
	o->adopt_timeout_ms = 300000;
	default_reaper_path(o->reaper_path, sizeof(o->reaper_path));

	opterr = 0;
	optind = 1;
	int c;
	unsigned long long v;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case O_DB:
			o->db_url = optarg;
			break;
		case O_DBQ:
			if (!parse_uint(optarg, 100000000, &v) || v == 0)
				ok = bad("--db-queue-max '%s': expected a number from 1 to 100000000",
					 optarg);
			else
				o->db_queue_max = (size_t)v;
			break;
		case O_RUNNER:
			if (!project_id_valid(optarg))
				ok = bad("--runner-id '%s': use 1-128 characters of [A-Za-z0-9._:-]",
					 optarg);
			else
				snprintf(o->runner_id, sizeof(o->runner_id), "%s", optarg);
			break;
		case O_RANGE:
			if (!parse_port_range(optarg, &o->port_lo, &o->port_hi))
				ok = bad("--port-range '%s': expected LO-HI, 1 <= LO <= HI <= 65535",
					 optarg);
			break;
		case O_MAXP:
			if (!parse_uint(optarg, 100000, &v) || v == 0)
				ok = bad("--max-projects '%s': expected a number from 1 to 100000", optarg);
			else
				o->max_projects = (unsigned)v;
			break;
		case O_MAXL:
			if (!parse_uint(optarg, 1ull << 30, &v) || v < 64)
				ok = bad("--max-line '%s': expected a number of bytes from 64 to 2^30",
					 optarg);
			else
				o->max_line = (size_t)v;
			break;
		case O_REAPER:
			snprintf(o->reaper_path, sizeof(o->reaper_path), "%s", optarg);
			break;
		case O_TBIN: {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || !eq[1])
				ok = bad("--tunnel-bin '%s': expected PROVIDER=PATH", optarg);
			else if (o->n_tunnel_bins == OPTIONS_MAX_TUNNEL_BINS)
				ok = bad("--tunnel-bin '%s': too many", optarg);
			else {
				*eq = '\0';
				o->tunnel_bins[o->n_tunnel_bins].provider = optarg;
				o->tunnel_bins[o->n_tunnel_bins++].path = eq + 1;
			}
			break;
		}
		case O_TDEF: {
			/* refused now, not at the first `tunnel: true`, hours later */
			const char *pat, *req, *fatal;
			if (!tunnel_config_provider(optarg, &pat, &req, &fatal))
				ok = bad("--tunnel-default '%s': unknown provider; use cloudflared, "
					 "ngrok or localtunnel (custom needs a command: give it per "
					 "start)",
					 optarg);
			else
				o->tunnel_default = optarg;
			break;
		}
		case O_TTY:
			o->tty = 1;
			break;
		case O_NOTTY:
			o->tty = 0;
			break;
		case O_LOG: {
			int lv = log_level_parse(optarg);
			if (lv < 0)
				ok = bad("--log-level '%s': expected debug, info, warn, error or off",
					 optarg);
			else
				o->log_level = (log_level_t)lv;
			o->log_level_set = true;
			break;
		}
		case O_MIGRATE:
			o->migrate = true;
			break;
		case O_STATE_DIR:
			if (optarg[0] != '/')
				ok = bad("--state-dir '%s': expected an absolute path", optarg);
			else
				o->state_dir = optarg;
			break;
		case O_ENV_ALLOW: {
			char why[256];
			json_decref(o->env_allow);
			o->env_allow = envfilter_parse_list(optarg, why, sizeof(why));
			if (!o->env_allow)
				ok = bad("--env-allow: %s", why);
			break;
		}
		case O_NO_TRAP:
			o->no_listen_trap = true;
			break;
		case O_ADOPT:
			if (!parse_uint(optarg, 86400, &v))
				ok = bad("--adopt-timeout '%s': expected seconds from 0 to 86400", optarg);
			else
				o->adopt_timeout_ms = v * 1000;
			break;
		case O_NOCGROUP:
			o->no_cgroup = true;
			break;
		case O_VERSION:
			printf("devsup %s\n", DEVSUP_VERSION);
			options_free(o);
			return OPTIONS_EXIT_OK;
		case O_HELP:
			fputs(usage, stdout);
			options_free(o);
			return OPTIONS_EXIT_OK;
		default:
			ok = bad("unknown or incomplete option '%s'", argv[optind - 1]);
		}
		if (!ok) {
			options_free(o);
			return OPTIONS_BAD;
		}
	}
	if (optind < argc) {
		bad("unexpected argument '%s'", argv[optind]);
		options_free(o);
		return OPTIONS_BAD;
	}
	return OPTIONS_OK;
}

void options_free(options_t *o)
{
	json_decref(o->env_allow);
	o->env_allow = NULL;
}
