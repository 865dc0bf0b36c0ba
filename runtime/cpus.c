/*
 * The default worker count: the CPUs in the affinity mask, capped by the
 * cgroup v2 CPU quota, as Go and the JVM size their defaults.
 *
 * The quota is read from cpu.max ("QUOTA PERIOD", or "max PERIOD" for no
 * cap) in the process's cgroup v2 directory and in each ancestor up to
 * the mount's root: a parent's limit binds its children too, so the
 * smallest one counts. The cgroup is the "0::PATH" line of
 * /proc/self/cgroup and the hierarchy is assumed mounted on
 * /sys/fs/cgroup (the systemd and container layout). Anything missing or
 * malformed means no cap: the affinity mask alone decides.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/internal.h"

/* The cap one cpu.max file sets: ceil(quota / period), at least 1, or 0
 * for none (max, missing, malformed). */
static unsigned read_cpu_max(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char quota[32];
	unsigned long long period;
	int n = fscanf(f, "%31s %llu", quota, &period);
	fclose(f);
	if (n != 2 || period == 0 || strcmp(quota, "max") == 0)
		return 0;
	char *end;
	errno = 0;
	unsigned long long q = strtoull(quota, &end, 10);
	if (errno || *end || quota[0] == '-' || q == 0)
		return 0;
	unsigned long long cap = q / period + (q % period != 0);
	return cap > UINT_MAX ? UINT_MAX : (unsigned)cap;
}

/* Reads the "0::" line of root/proc/self/cgroup into path (without its
 * newline). False if there is none or it does not fit. */
static bool cgroup_path(const char *root, char *path, size_t size)
{
	char file[PATH_MAX];
	if ((size_t)snprintf(file, sizeof(file), "%s/proc/self/cgroup", root) >=
	    sizeof(file))
		return false;
	FILE *f = fopen(file, "re");
	if (!f)
		return false;
	char line[PATH_MAX + 8];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		size_t len = strcspn(line + 3, "\n");
		if (len < size && line[3] == '/') {
			memcpy(path, line + 3, len);
			path[len] = '\0';
			found = true;
		}
	}
	fclose(f);
	return found;
}

unsigned weft__cpu_quota_cap(const char *root, unsigned cpus)
{
	char cg[PATH_MAX];
	if (!cgroup_path(root, cg, sizeof(cg)))
		return cpus;
	/* A cgroup outside this namespace's root reads as "/../x": its
	 * directory is not under the mount. */
	if (strstr(cg, "/.."))
		return cpus;
	unsigned cap = 0;
	for (;;) {
		char file[PATH_MAX];
		const char *dir = strcmp(cg, "/") == 0 ? "" : cg;
		if ((size_t)snprintf(file, sizeof(file),
				     "%s/sys/fs/cgroup%s/cpu.max", root,
				     dir) < sizeof(file)) {
			unsigned c = read_cpu_max(file);
			if (c && (!cap || c < cap))
				cap = c;
		}
		if (!dir[0])
			break;
		char *slash = strrchr(cg, '/');
		if (slash == cg)
			cg[1] = '\0';
		else
			*slash = '\0';
	}
	return cap && cap < cpus ? cap : cpus;
}

unsigned weft__affinity_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

unsigned weft__default_workers(void)
{
	return weft__cpu_quota_cap("", weft__affinity_cpus());
}
