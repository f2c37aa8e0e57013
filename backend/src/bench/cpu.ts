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

/**
 * The pid of the server behind `query`'s connection, from its own `@@pid_file`: the server being
 * measured even when other MariaDB servers run on the machine (a private one of another job).
 * Falls back to {@link databasePid} when the file cannot be read (the server runs elsewhere).
 */
export async function databasePidOf(query: (sql: string) => Promise<unknown>): Promise<number | undefined> {
  try {
    const [rows] = (await query('SELECT @@pid_file AS file')) as [Array<{ file: string | null }>];
    const file = rows[0]?.file;
    const pid = file ? Number(readFileSync(file, 'utf8').trim()) : NaN;
    if (Number.isInteger(pid) && isDatabaseServer(String(pid))) return pid;
  } catch {
    // not readable from here
  }
  return databasePid();
}

function isDatabaseServer(pid: string): boolean {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return comm === 'mariadbd' || comm === 'mysqld';
  } catch {
    return false;
  }
}

/** A MariaDB (or MySQL) server process on this machine, when there is one (any, if several run). */
export function databasePid(): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name) && isDatabaseServer(name)) return Number(name);
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
