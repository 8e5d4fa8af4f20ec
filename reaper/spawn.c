#include "reaper/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/envfilter.h"
#include "common/log.h"
#include "reaper/listen_trap.h"

extern char **environ;

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* s with every "{port}" replaced by the port number and "{url}" by http://localhost:PORT. */
static char *substitute_port(const char *s, int port)
{
	char num[16], url[40];
	size_t nlen = (size_t)snprintf(num, sizeof(num), "%d", port);
	size_t ulen = (size_t)snprintf(url, sizeof(url), "http://localhost:%d", port);
	size_t cap = strlen(s) + 1, len = 0;
	char *out = xmalloc(cap);
	while (*s) {
		const char *with = NULL;
		size_t wlen = 0, skip = 0;
		if (strncmp(s, "{port}", 6) == 0) {
			with = num;
			wlen = nlen;
			skip = 6;
		} else if (strncmp(s, "{url}", 5) == 0) {
			with = url;
			wlen = ulen;
			skip = 5;
		}
		if (with) {
			cap += wlen;
			out = xrealloc(out, cap);
			memcpy(out + len, with, wlen);
			len += wlen;
			s += skip;
		} else {
			out[len++] = *s++;
		}
	}
	out[len] = '\0';
	return out;
}

static char *join_path(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *p = xmalloc(dl + nl + 2);
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl + 1);
	return p;
}

/* What stat and access say about a candidate executable. */
typedef enum {
	EXE_OK,
	EXE_MISSING,     /* ENOENT, ENOTDIR, ELOOP: nothing there */
	EXE_TOO_LONG,    /* ENAMETOOLONG: no such path can exist */
	EXE_UNREACHABLE, /* stat EACCES: a directory on the way cannot be searched */
	EXE_DIRECTORY,
	EXE_NOT_EXECUTABLE,
} exe_check_t;

static exe_check_t check_executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == EACCES)
			return EXE_UNREACHABLE;
		return errno == ENAMETOOLONG ? EXE_TOO_LONG : EXE_MISSING;
	}
	if (S_ISDIR(st.st_mode))
		return EXE_DIRECTORY;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
		return EXE_NOT_EXECUTABLE;
	return EXE_OK;
}

/* A path given with a '/' (absolute, or relative to cwd). */
static bool resolve_path(const char *name, const char *cwd, char **out, failure_t *f)
{
	char *full = name[0] == '/' ? xstrdup(name) : join_path(cwd, name);
	exe_check_t c = check_executable(full);
	switch (c) {
	case EXE_OK:
		*out = full;
		return true;
	case EXE_MISSING:
		failure_set(f, REASON_COMMAND_NOT_FOUND, NULL,
			    "command '%s' not found (no such file: %s)", name, full);
		break;
	case EXE_TOO_LONG:
		failure_set(f, REASON_COMMAND_NOT_FOUND, "Check the command's path.",
			    "command '%.200s...' not found: its path is %zu bytes, longer than any "
			    "path can be (ENAMETOOLONG)",
			    name, strlen(full));
		break;
	case EXE_UNREACHABLE:
		failure_set(f, REASON_PERMISSION_DENIED, NULL,
			    "command '%s' cannot be reached: a directory on the way to %s cannot be "
			    "searched by this user",
			    name, full);
		break;
	case EXE_DIRECTORY:
	case EXE_NOT_EXECUTABLE:
		failure_set(f, REASON_PERMISSION_DENIED, NULL,
			    "command '%s' cannot be executed: %s is %s", name, full,
			    c == EXE_DIRECTORY ? "a directory" : "not executable");
		break;
	}
	free(full);
	return false;
}

/* Resolves name as execvp would (relative paths against cwd, since the child chdirs first).
 * Like execvp, a PATH entry that cannot be searched is skipped; if the command is found
 * nowhere, that is command_not_found, naming the first entry that could not be searched (the
 * command may be there). */
static bool resolve_executable(const char *name, const char *cwd, const char *path_env,
			       char **out, failure_t *f)
{
	if (strchr(name, '/'))
		return resolve_path(name, cwd, out, f);
	char *denied = NULL, *unsearchable = NULL;
	const char *p = path_env;
	while (*p || p == path_env) {
		const char *colon = strchr(p, ':');
		size_t dl = colon ? (size_t)(colon - p) : strlen(p);
		char *dir = dl ? xstrndup(p, dl) : xstrdup(cwd); /* empty entry: current dir */
		char *abs_dir = dir[0] == '/' ? dir : join_path(cwd, dir);
		if (abs_dir != dir)
			free(dir);
		char *full = join_path(abs_dir, name);
		exe_check_t c = check_executable(full);
		if (c == EXE_OK) {
			free(denied);
			free(unsearchable);
			free(abs_dir);
			*out = full;
			return true;
		}
		if ((c == EXE_DIRECTORY || c == EXE_NOT_EXECUTABLE) && !denied) {
			denied = full;
			full = NULL;
		}
		if (c == EXE_UNREACHABLE && !unsearchable) {
			unsearchable = abs_dir;
			abs_dir = NULL;
		}
		free(full);
		free(abs_dir);
		if (!colon)
			break;
		p = colon + 1;
	}
	if (denied)
		failure_set(f, REASON_PERMISSION_DENIED, NULL,
			    "command '%s' was found at %s but is not executable", name, denied);
	else if (unsearchable)
		failure_set(f, REASON_COMMAND_NOT_FOUND,
			    "Install it in a directory this user can search, or fix PATH.",
			    "command '%s' was not found on PATH (%s); directory %s could not be "
			    "searched (permission denied), so it may be there",
			    name, path_env, unsearchable);
	else
		failure_set(f, REASON_COMMAND_NOT_FOUND, NULL,
			    "command '%s' was not found on PATH (%s)", name, path_env);
	free(denied);
	free(unsearchable);
	return false;
}

static bool env_key_is(const char *entry, const char *key)
{
	size_t kl = strlen(key);
	return strncmp(entry, key, kl) == 0 && entry[kl] == '=';
}

static char *env_entry(const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);
	char *e = xmalloc(kl + vl + 2);
	memcpy(e, key, kl);
	e[kl] = '=';
	memcpy(e + kl + 1, value, vl + 1);
	return e;
}

/* Whether an entry of the reaper's environment is passed on (SPEC §1): never DATABASE_URL,
 * libpq's PG* or devsup's DEVSUP_* settings (the master strips the secrets already; this is the
 * second line, for a reaper started some other way), then what the start's inheritEnv keeps. */
static bool env_inherited(const char *entry, const json_t *inherit)
{
	return !envfilter_is_secret(entry) && !envfilter_is_devsup(entry) &&
	       envfilter_keeps(inherit, entry);
}

/* The reaper's environment as filtered above, minus the keys we set, plus env, PORT and the
 * devsup markers. */
static char **build_env(const json_t *env, int port, const spawn_ids_t *ids)
{
	char portbuf[16], timeoutbuf[24];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	snprintf(timeoutbuf, sizeof(timeoutbuf), "%llu", (unsigned long long)ids->stop_timeout_ms);
	/* The markers let a later devsup with the same runner id find and stop what a crashed
	 * one left behind, with the project's own grace period. */
	const char *fixed_keys[] = {"PORT", "DEVSUP_PROJECT_ID", "DEVSUP_RUNNER_ID",
				    "DEVSUP_STOP_TIMEOUT_MS"};
	const char *fixed_vals[] = {portbuf, ids->project_id, ids->runner_id, timeoutbuf};
	size_t n = 0, extra = env ? json_object_size(env) : 0;
	while (environ[n])
		n++;
	char **envp = xcalloc(n + extra + ARRAY_LEN(fixed_keys) + 1, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		/* filtered out, or set below (a marker, or the start's env) */
		bool dropped = !env_inherited(environ[i], ids->inherit_env);
		for (size_t j = 0; j < ARRAY_LEN(fixed_keys) && !dropped; j++)
			dropped = env_key_is(environ[i], fixed_keys[j]);
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)env, key, v)
		{
			if (!dropped)
				dropped = env_key_is(environ[i], key);
		}
		if (!dropped)
			envp[k++] = xstrdup(environ[i]);
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)env, key, v)
	{
		bool fixed = false;
		for (size_t j = 0; j < ARRAY_LEN(fixed_keys); j++)
			fixed = fixed || strcmp(key, fixed_keys[j]) == 0;
		if (!fixed && json_is_string(v))
			envp[k++] = env_entry(key, json_string_value(v));
	}
	for (size_t j = 0; j < ARRAY_LEN(fixed_keys); j++)
		envp[k++] = env_entry(fixed_keys[j], fixed_vals[j]);
	envp[k] = NULL;
	return envp;
}

static const char *env_lookup(char **envp, const char *key)
{
	for (size_t i = 0; envp[i]; i++)
		if (env_key_is(envp[i], key))
			return envp[i] + strlen(key) + 1;
	return NULL;
}

static bool check_cwd(const char *cwd, failure_t *f)
{
	struct stat st;
	if (stat(cwd, &st) < 0) {
		if (errno == EACCES)
			failure_set(f, REASON_PERMISSION_DENIED, NULL,
				    "directory %s cannot be reached: %s", cwd, strerror(errno));
		else
			failure_set(f, REASON_DIRECTORY_MISSING, NULL,
				    "directory %s does not exist", cwd);
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		failure_set(f, REASON_DIRECTORY_MISSING, NULL, "%s is not a directory", cwd);
		return false;
	}
	if (access(cwd, X_OK) < 0) {
		failure_set(f, REASON_PERMISSION_DENIED, NULL, "directory %s cannot be entered: %s",
			    cwd, strerror(errno));
		return false;
	}
	return true;
}

bool spawn_prepare(const json_t *command, const char *cwd, int port, const json_t *env,
		   const spawn_ids_t *ids, spawn_plan_t *plan, failure_t *f)
{
	memset(plan, 0, sizeof(*plan));
	plan->cgroup_fd = ids->cgroup_fd;
	if (!check_cwd(cwd, f))
		return false;
	plan->envp = build_env(env, port, ids);
	if (json_is_string(command)) {
		plan->shell = true;
		plan->argv = xcalloc(4, sizeof(char *));
		plan->argv[0] = xstrdup("/bin/sh");
		plan->argv[1] = xstrdup("-c");
		plan->argv[2] = substitute_port(json_string_value(command), port);
		plan->path = xstrdup("/bin/sh");
		plan->display = xstrdup(plan->argv[2]);
		return true;
	}
	size_t n = json_array_size(command);
	plan->argv = xcalloc(n + 1, sizeof(char *));
	size_t dlen = 0;
	for (size_t i = 0; i < n; i++) {
		plan->argv[i] = substitute_port(json_string_value(json_array_get(command, i)), port);
		dlen += strlen(plan->argv[i]) + 1;
	}
	plan->display = xcalloc(dlen + 1, 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(plan->display, " ");
		strcat(plan->display, plan->argv[i]);
	}
	const char *path_env = env_lookup(plan->envp, "PATH");
	if (!resolve_executable(plan->argv[0], cwd, path_env ? path_env : DEFAULT_PATH,
				&plan->path, f)) {
		spawn_plan_free(plan);
		return false;
	}
	return true;
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

void spawn_plan_free(spawn_plan_t *plan)
{
	strv_free(plan->argv);
	strv_free(plan->envp);
	free(plan->path);
	free(plan->display);
	memset(plan, 0, sizeof(*plan));
}

/* In the child, on failure: tell the parent why, then _exit (never exit: no atexit, no
 * stdio flush of the parent's buffers). */
static void __attribute__((noreturn)) child_fail(int fd, int stage)
{
	spawn_error_t e = {.stage = stage, .err = errno};
	(void)!send(fd, &e, sizeof(e), MSG_NOSIGNAL);
	_exit(127);
}

/* In the child: installs the listen trap and hands its fd to the reaper over the exec
 * channel, before exec, so the reaper holds it before the server's first listen() (which
 * waits in the kernel until the reaper answers). A failure is reported, not fatal. */
static void child_install_trap(int fd)
{
	spawn_error_t e = {.stage = SPAWN_STAGE_TRAP, .err = 0};
	int trap = listen_trap_install();
	if (trap < 0)
		e.err = errno;
	struct iovec iov = {.iov_base = &e, .iov_len = sizeof(e)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (trap >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &trap, sizeof(int));
	}
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	if (trap >= 0)
		close(trap);
}

pid_t spawn_start(const spawn_plan_t *plan, const char *cwd, int out_fd, int err_fd,
		  int *exec_fd)
{
	int pipefd[2];
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return -1;
	/* A close-on-exec datagram channel rather than a pipe: it also carries the listen trap's
	 * fd (SCM_RIGHTS), and EOF still means exec succeeded. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pipefd) < 0) {
		int e = errno;
		close(devnull);
		errno = e;
		return -1;
	}
	/* Block every signal across the fork: a SIGTERM that reached the child before it reset
	 * its dispositions would run the handler inherited from libev (which writes to the
	 * reaper's own signal pipe) and be lost, and the server would then ignore the teardown.
	 * Blocked, it stays pending until the child has restored the defaults. */
	sigset_t all, saved;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &saved);
	pid_t pid = fork();
	if (pid != 0)
		sigprocmask(SIG_SETMASK, &saved, NULL);
	if (pid < 0) {
		int e = errno;
		close(devnull);
		close(pipefd[0]);
		close(pipefd[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. Ignored signals and the mask
		 * survive exec, so restore both: the server must see SIGTERM and SIGPIPE. The
		 * dispositions first, then the mask: a pending signal then takes its default. */
		sigset_t none;
		sigemptyset(&none);
		struct sigaction dfl;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (int s = 1; s < NSIG; s++)
			sigaction(s, &dfl, NULL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Into the project's cgroup before anything runs: whatever the server forks, even
		 * with setsid, is born inside it. */
		if (plan->cgroup_fd > 0 && write(plan->cgroup_fd, "0", 1) != 1)
			child_fail(pipefd[1], SPAWN_STAGE_CGROUP);
		setpgid(0, 0);
		if (chdir(cwd) < 0)
			child_fail(pipefd[1], SPAWN_STAGE_CHDIR);
		/* dup2 clears close-on-exec on the copies, and only on them */
		if (dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
			child_fail(pipefd[1], SPAWN_STAGE_STDIO);
		if (plan->listen_trap)
			child_install_trap(pipefd[1]);
		execve(plan->path, plan->argv, plan->envp);
		child_fail(pipefd[1], SPAWN_STAGE_EXEC);
	}
	/* Also from the parent, so the group exists before we might signal it. */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		log_warn("setpgid(%d): %s", (int)pid, strerror(errno));
	close(devnull);
	close(pipefd[1]);
	*exec_fd = pipefd[0];
	return pid;
}

void spawn_classify_error(const spawn_plan_t *plan, const char *cwd, const spawn_error_t *e,
			  failure_t *f)
{
	const char *what = strerror(e->err);
	switch (e->stage) {
	case SPAWN_STAGE_CHDIR:
		if (e->err == EACCES || e->err == EPERM)
			failure_set(f, REASON_PERMISSION_DENIED, NULL, "cannot enter directory %s: %s",
				    cwd, what);
		else
			failure_set(f, REASON_DIRECTORY_MISSING, NULL, "cannot enter directory %s: %s",
				    cwd, what);
		return;
	case SPAWN_STAGE_EXEC:
		if (e->err == ENOENT || e->err == ENOTDIR)
			failure_set(f, REASON_COMMAND_NOT_FOUND, NULL,
				    "cannot run '%s': %s (%s; a script's interpreter may be missing)",
				    plan->display, what, plan->path);
		else if (e->err == EACCES || e->err == EPERM)
			failure_set(f, REASON_PERMISSION_DENIED, NULL, "cannot run '%s': %s (%s)",
				    plan->display, what, plan->path);
		else if (e->err == ENAMETOOLONG)
			failure_set(f, REASON_COMMAND_NOT_FOUND, "Check the command's path.",
				    "cannot run '%s': %s (%s)", plan->display, what, plan->path);
		else if (e->err == E2BIG)
			failure_set(f, REASON_UNKNOWN,
				    "Pass large data in a file the server reads, not in env or "
				    "command.",
				    "cannot run '%s': its arguments and environment are too large for "
				    "exec (%s)",
				    plan->display, what);
		else if (e->err == ENOEXEC)
			failure_set(f, REASON_UNKNOWN,
				    "Give the script a #! line, or run it through its interpreter "
				    "(for example [\"sh\", \"script\"]).",
				    "cannot run '%s': %s is neither a binary nor a script with a #! line",
				    plan->display, plan->path);
		else
			failure_set(f, REASON_UNKNOWN, NULL, "cannot run '%s': %s (%s)",
				    plan->display, what, plan->path);
		return;
	case SPAWN_STAGE_CGROUP:
		failure_set(f, REASON_UNKNOWN,
			    "Check devsup's cgroup delegation, or start devsup with --no-cgroup.",
			    "cannot move '%s' into its cgroup: %s", plan->display, what);
		return;
	default:
		failure_set(f, REASON_UNKNOWN, NULL, "cannot set up '%s': %s", plan->display, what);
	}
}

bool spawn_classify_shell_exit(const spawn_plan_t *plan, int status, failure_t *f)
{
	if (!plan->shell || !WIFEXITED(status))
		return false;
	if (WEXITSTATUS(status) == 127) {
		failure_set(f, REASON_COMMAND_NOT_FOUND, NULL,
			    "the shell could not find a command in '%s' (exit code 127)",
			    plan->display);
		return true;
	}
	if (WEXITSTATUS(status) == 126) {
		failure_set(f, REASON_PERMISSION_DENIED, NULL,
			    "the shell could not execute a command in '%s' (exit code 126)",
			    plan->display);
		return true;
	}
	return false;
}

ssize_t spawn_read_report(int exec_fd, spawn_error_t *e, int *passed_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = e, .iov_len = sizeof(*e)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	*passed_fd = -1;
	ssize_t n;
	do
		n = recvmsg(exec_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(passed_fd, CMSG_DATA(c), sizeof(int));
	return n;
}
