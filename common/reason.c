#include "common/reason.h"

#include <string.h>

static const struct {
	const char *name;
	const char *suggestion;
} reasons[REASON_COUNT] = {
	[REASON_NONE] = {"", ""},
	[REASON_PORT_IN_USE] = {"port_in_use",
				"Stop the process holding the port (named in the message), or ask "
				"for another port."},
	[REASON_COMMAND_NOT_FOUND] = {"command_not_found",
				      "Install the program or fix the command; check PATH and that "
				      "the project's dependencies are installed (npm install)."},
	[REASON_DIRECTORY_MISSING] = {"directory_missing",
				      "Check that cwd is the absolute path of an existing project "
				      "directory."},
	[REASON_PERMISSION_DENIED] = {"permission_denied",
				      "Make the file executable (chmod +x) or check the directory's "
				      "permissions."},
	[REASON_IMMEDIATE_CRASH] = {"immediate_crash",
				    "The server exited right after it was started: read logTail for "
				    "its error."},
	[REASON_CRASHED] = {"crashed", "The server exited on its own: read logTail for its error."},
	[REASON_HEALTH_CHECK_TIMEOUT] = {"health_check_timeout",
					 "The server never answered HTTP on its port: check that it "
					 "listens on the port given in PORT or {port}, or raise "
					 "healthCheck.timeoutMs."},
	[REASON_HEALTH_CHECK_FAILED] = {"health_check_failed",
					"Something answers on the port but does not speak HTTP: "
					"check the command and the port."},
	[REASON_UNKNOWN] = {"unknown", "Read logTail and devsup's stderr for details."},
	[REASON_KILLED] = {"killed", "Something outside devsup sent the server a signal (the OOM "
				     "killer, a person, another tool)."},
	[REASON_TUNNEL_FAILED] = {"tunnel_failed",
				  "Check that the tunnel client is installed and can reach its "
				  "service."},
	[REASON_CANCELLED] = {"cancelled", "A stop arrived while the server was starting."},
	[REASON_REAPER_LOST] = {"reaper_lost",
				"devsup's per-project process died; start the project again and "
				"report this if it repeats."},
	[REASON_RUNNER_RESTART] = {"runner_restart",
				   "devsup was restarted; start the project again."},
	[REASON_ALREADY_RUNNING] = {"already_running",
				    "Stop the project first, or use restart-dev-server."},
	[REASON_NOT_RUNNING] = {"not_running", "Start the project first."},
	[REASON_INVALID_JSON] = {"invalid_json",
				 "Send one JSON object per line, UTF-8, ending in a newline."},
	[REASON_INVALID_COMMAND] = {"invalid_command",
				    "Fix the named field; see docs/protocol.md for each command's "
				    "fields."},
	[REASON_UNKNOWN_COMMAND] = {"unknown_command",
				    "Use one of: start-dev-server, stop-dev-server, "
				    "restart-dev-server, status, logs, follow-logs, ping, metrics, "
				    "shutdown."},
	[REASON_LINE_TOO_LONG] = {"line_too_long",
				  "Send shorter lines, or raise --max-line."},
	[REASON_CAPACITY] = {"capacity",
			     "Stop projects that are no longer needed, or raise --max-projects."},
	[REASON_RUNNER_ID_IN_USE] = {"runner_id_in_use",
				     "Give each devsup on this machine its own --runner-id (the Node "
				     "client's runnerId), e.g. one per deployment slot, or stop the "
				     "devsup that holds it."},
	[REASON_SHUTTING_DOWN] = {"shutting_down",
				  "devsup is stopping every project and exiting; start the project "
				  "again once devsup has restarted."},
	[REASON_OWNED_BY_OTHER_RUNNER] = {"owned_by_other_runner",
					  "Stop it on that runner first, or send the start there "
					  "(devsup_projects shows where each project runs)."},
	[REASON_RUNNER_LOST] = {"runner_lost",
				"The runner that ran it is gone (its database session ended); "
				"start the project again."},
	[REASON_MEMORY_LIMIT] = {"memory_limit",
				 "The server grew past limits.memoryBytes: raise the limit, or find "
				 "what holds the memory (a leak, a large build in watch mode)."},
};

const char *reason_name(reason_t r)
{
	return (unsigned)r < REASON_COUNT ? reasons[r].name : "unknown";
}

int reason_parse(const char *name)
{
	for (int i = 1; i < REASON_COUNT; i++)
		if (strcmp(name, reasons[i].name) == 0)
			return i;
	return -1;
}

const char *reason_suggestion(reason_t r)
{
	return (unsigned)r < REASON_COUNT ? reasons[r].suggestion : "";
}
