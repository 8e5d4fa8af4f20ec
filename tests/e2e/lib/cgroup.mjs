// The unified (v2) cgroup hierarchy as the containment tests see it (SPEC §9).
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The unified hierarchy's mount point, from mountinfo (never assumed), or null. */
function cgroup2Mount() {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post && post.startsWith('cgroup2 ')) return pre.split(' ')[4];
  }
  return null;
}
export const MOUNT = cgroup2Mount();
/** This process's v2 cgroup ("/" or "/a/b"), undefined when it is in none. */
export const ownCgroup = () => (readFileSync('/proc/self/cgroup', 'utf8').match(/^0::(.*)$/m) || [])[1];
/** devsup can create cgroups here: root with a cgroup2 mount (what CI has). */
export const CGROUP_HERE = process.getuid() === 0 && MOUNT !== null && ownCgroup() !== undefined;
/** A test's `skip` where it needs CGROUP_HERE. */
export const NO_CGROUP = CGROUP_HERE ? false : 'needs root and a cgroup2 mount (CI has both)';

/** The v2 cgroup of a process, "/devsup.x/p" ('' when gone). */
export function cgroupOf(pid) {
  try {
    return (readFileSync(`/proc/${pid}/cgroup`, 'utf8').match(/^0::(.*)$/m) || [])[1] ?? '';
  } catch {
    return '';
  }
}

/** The directory of runner rid's groups, for a devsup started by this process. */
export const runnerCgroupDir = (rid) => path.join(MOUNT, ownCgroup() === '/' ? '' : ownCgroup(), `devsup.${rid}`);
