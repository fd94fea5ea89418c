import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces): state is [0], ppid [1]. */
function statFields(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time (user + system) a process has used so far, in ms, read from /proc. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / ticksPerSecond;
}

/** Resident memory of a process, in bytes, read from /proc. */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** The live children of a process (of every one of its threads), from /proc. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) children.push(...text.split(' ').map(Number));
    }
  } catch {
    // the process (or a thread) ended while being read
  }
  return children;
}

/**
 * CPU time (ms) used so far by a process and every descendant, the ones that ended
 * included: each live process's own time plus the time of the children it reaped
 * (cutime, cstime), so each CPU second is counted once whether its process is alive or
 * not (a PostgreSQL backend, a restarted cluster worker). 0 once the process is gone.
 */
export function treeCpuMs(pid: number): number {
  let ticks = 0;
  const visit = (p: number) => {
    try {
      const f = statFields(p);
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      return;
    }
    for (const child of childPids(p)) visit(child);
  };
  visit(pid);
  return (ticks * 1000) / ticksPerSecond;
}

/**
 * Write-family system calls (write, writev, sendmsg…) made so far by a process and its live
 * descendants, from /proc/<pid>/io: how many writes a server split its output into.
 */
export function writeSyscalls(pid: number): number {
  let count = 0;
  const visit = (p: number) => {
    try {
      count += Number(/syscw:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/io`, 'utf8'))?.[1] ?? 0);
    } catch {
      return;
    }
    for (const child of childPids(p)) visit(child);
  };
  visit(pid);
  return count;
}

/** 127.0.0.1:port as /proc/net/tcp spells it (address little-endian hex, port big-endian hex). */
const loopback = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Which of `pids` holds the server end of each loopback TCP connection from a client port
 * to `serverPort`: the index into `pids`, or -1 when none does (the connection is gone).
 * Reads /proc/net/tcp (the socket's inode) and each process's fds (who holds that inode):
 * it works for any server, whichever process accepted the connection or was handed it.
 */
export function socketOwners(pids: number[], serverPort: number, clientPorts: number[]): number[] {
  const server = loopback(serverPort);
  const inodeOfPort = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // local, remote, state (01: established), ..., inode
    if (f[1] === server && f[3] === '01') inodeOfPort.set(f[2], f[9]);
  }
  const ownerOfInode = new Map<string, number>();
  pids.forEach((pid, index) => {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      return;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) ownerOfInode.set(m[1], index);
      } catch {
        // closed meanwhile
      }
    }
  });
  return clientPorts.map((port) => ownerOfInode.get(inodeOfPort.get(loopback(port)) ?? '') ?? -1);
}
