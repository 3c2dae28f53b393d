/**
 * Linux process facts for benchmarks that measure another process from the outside: CPU time
 * and resident memory from `/proc`, the machine's CPU counters, CPU pinning with `taskset`, and
 * free loopback ports. Every reader throws when `/proc` lacks what it needs, so a number is never
 * made up.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';

let clockTicks: number | undefined;

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux). */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf CLK_TCK said ${text}`);
    clockTicks = value;
  }
  return clockTicks;
}

/**
 * CPU time a process has used so far, user + system, all its threads, in milliseconds (fields
 * 14 and 15 of `/proc/<pid>/stat`; resolution one clock tick, 10 ms).
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`/proc/${pid}/stat: cannot read utime and stime`);
  }
  return ((utime + stime) * 1000) / ticksPerSecond();
}

/**
 * A `kB` line of `/proc/<pid>/status`, in bytes: `VmRSS` (resident), `VmHWM` (its peak), and
 * `VmRSS` split into `RssAnon` (memory the process allocated) and `RssFile` (pages of mapped
 * files it touched: mostly the node binary's code).
 */
export function processStatusBytes(
  pid: number,
  field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile',
): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match?.[1]) throw new Error(`/proc/${pid}/status: no ${field} line`);
  return Number(match[1]) * 1024;
}

/** The machine's CPU counters (first line of `/proc/stat`), in milliseconds. */
export interface MachineCpu {
  /** user + nice + system: time spent running processes' code, all CPUs. */
  readonly processMs: number;
  /** irq + softirq: the kernel's interrupt work, loopback networking included. */
  readonly interruptMs: number;
  /** idle + iowait. */
  readonly idleMs: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0] = values;
  if (!line.startsWith('cpu ') || values.length < 7) throw new Error('/proc/stat: no cpu line');
  const ms = (ticks: number) => (ticks * 1000) / ticksPerSecond();
  return {
    processMs: ms(user + nice + system),
    interruptMs: ms(irq + softirq),
    idleMs: ms(idle + iowait),
  };
}

/** The difference of two `machineCpu` readings. */
export function machineCpuSince(before: MachineCpu, after = machineCpu()): MachineCpu {
  return {
    processMs: after.processMs - before.processMs,
    interruptMs: after.interruptMs - before.interruptMs,
    idleMs: after.idleMs - before.idleMs,
  };
}

/** How the benchmark processes are spread over CPUs. */
export interface CpuPlan {
  /** `taskset` is there and the machine has at least two CPUs. */
  readonly pinned: boolean;
  /** CPU list for the server under test, e.g. `1`. */
  readonly server: string;
  /** CPU list for the load generator, e.g. `0`. */
  readonly client: string;
  readonly cpus: number;
}

/** Server on the last CPU, load generator on the first, when `taskset` can pin them. */
export function cpuPlan(): CpuPlan {
  const count = cpus().length;
  let taskset: boolean;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    taskset = true;
  } catch {
    taskset = false;
  }
  return { pinned: taskset && count >= 2, server: String(count - 1), client: '0', cpus: count };
}

/** `command args…` run on the CPUs `list` (through `taskset -c`), or as it is when not pinned. */
export function pinnedCommand(
  plan: CpuPlan,
  list: string,
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  return plan.pinned
    ? { command: 'taskset', args: ['-c', list, command, ...args] }
    : { command, args: [...args] };
}

/** Pins every thread of process `pid` (and the threads it starts later) to the CPUs `list`. */
export function pinProcess(pid: number, list: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', list, String(pid)], { stdio: 'ignore' });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}
