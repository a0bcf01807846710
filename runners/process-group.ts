// Signals to a task's whole process group, and whether anything of it is still running. The
// script is spawned detached, so its pid is also its process group id and `kill(-pgid)` reaches
// every process it started (unless one left the group with `setsid`). A process that already
// died but was not reaped (a zombie, common in containers whose PID 1 does not reap orphans)
// still counts for `kill(-pgid, 0)`, so on Linux liveness is read from /proc instead.
import { readdirSync, readFileSync } from 'node:fs';

/** Sends `signal` to the group; false when the group no longer exists. Other errors are thrown. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** True while some process of the group is alive (zombies do not count). */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

/** True while the process is alive (a zombie counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
  const stat = process.platform === 'linux' ? procStat(pid) : undefined;
  return stat ? stat.state !== 'Z' && stat.state !== 'X' : true;
}

/** State and process group from /proc/<pid>/stat; undefined when the process is gone. */
function procStat(pid: number): { state: string; pgrp: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined; // it ended while we looked
    throw error;
  }
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last `)`.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', pgrp: Number(fields[2]) };
}
