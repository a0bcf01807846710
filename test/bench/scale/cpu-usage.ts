// Where a phase's CPU time went, from /proc (Linux): the CPU seconds each of the benchmark's
// processes, PostgreSQL's processes and Redis used between two snapshots, and the machine's busy
// share. Processes that exit between the snapshots are not counted (a crashed worker, a
// PostgreSQL backend that closed). The tasks' short-lived shells are counted through their
// workers' reaped-children times (cutime, cstime).
// The PostgreSQL and Redis servers are the machine's, shared with whatever else uses them then.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: `getconf CLK_TCK` on Linux

export interface CpuSnapshot {
  /** pid → CPU seconds (user + system) used so far. */
  processes: Map<number, number>;
  /** pid → CPU seconds its exited and reaped children used so far. */
  children: Map<number, number>;
  /** The machine's busy and total CPU seconds so far (all cores). */
  busy: number;
  total: number;
  at: number;
}

function processSeconds(pid: number): { own: number; children: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) in parentheses; utime, stime, cutime and cstime are the 14th to 17th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { own: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND, children: (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** The pids whose command name is one of `names` (e.g. postgres, redis-server). */
export function pidsNamed(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

export function cpuSnapshot(pids: readonly number[]): CpuSnapshot {
  const processes = new Map<number, number>();
  const children = new Map<number, number>();
  for (const pid of pids) {
    const s = processSeconds(pid);
    if (s === undefined) continue;
    processes.set(pid, s.own);
    children.set(pid, s.children);
  }
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
  const busy = (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
  return { processes, children, busy, total: busy + (idle + iowait) / TICKS_PER_SECOND, at: performance.now() };
}

/**
 * CPU seconds per group between `before` and `after` (pids present in both), of the reaped
 * children of each `childGroups` entry's pids, the machine's busy share and the rest of it.
 */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot, groups: Record<string, readonly number[]>, childGroups: Record<string, readonly number[]> = {}): { seconds: Record<string, number>; machineBusySeconds: number; machineBusyShare: number; wallSeconds: number } {
  const seconds: Record<string, number> = {};
  let counted = 0;
  const add = (group: string, pids: readonly number[], of: (snapshot: CpuSnapshot) => Map<number, number>) => {
    let s = 0;
    for (const pid of pids) {
      const a = of(before).get(pid);
      const b = of(after).get(pid);
      if (a !== undefined && b !== undefined) s += b - a;
    }
    seconds[group] = s;
    counted += s;
  };
  for (const [group, pids] of Object.entries(groups)) add(group, pids, (snapshot) => snapshot.processes);
  for (const [group, pids] of Object.entries(childGroups)) add(group, pids, (snapshot) => snapshot.children);
  const machineBusySeconds = after.busy - before.busy;
  seconds['rest of the machine'] = Math.max(0, machineBusySeconds - counted);
  return { seconds, machineBusySeconds, machineBusyShare: machineBusySeconds / Math.max(1e-9, after.total - before.total), wallSeconds: (after.at - before.at) / 1000 };
}
