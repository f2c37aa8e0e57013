/**
 * CPU accounting for benchmarks on a shared machine: rates move with other jobs' load, CPU time per
 * unit of work far less. Reads /proc (Linux); 0 where it cannot.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** CPU seconds (user + system) a process has used so far (0 when it is gone). */
export function cpuSecondsOf(pid: number): number {
  try {
    // Fields after the command (which may hold spaces): utime is field 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** MariaDB's (or MySQL's) server process on this machine, when there is one. */
export function databasePid(): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const comm = readFileSync(`/proc/${name}/comm`, 'utf8').trim();
      if (comm === 'mariadbd' || comm === 'mysqld') return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** This process's CPU seconds so far (all threads: main, libuv pool, GC). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Load average over the last minute (the machine's other work, to note next to a figure). */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!;
  } catch {
    return '?';
  }
}

/** CPU seconds per thread of this process (Linux: /proc/self/task), keyed `tid name`. */
export function threadCpuSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(`${tid} ${name}`, (Number(fields[11]) + Number(fields[12])) / 100);
      } catch {
        // thread gone meanwhile
      }
    }
  } catch {
    // not Linux
  }
  return out;
}
