#!/usr/bin/env python3
"""Who waits on whom in a phonehome run, from a `perf sched record` trace.

    perf sched record -o T.data -- phonehome replay ...
    perf script -i T.data -F comm,pid,tid,cpu,time,event,trace | bench/idle-waits.py

Each time one of the run's threads goes to sleep (switched out in state S
or D), the thread that wakes it says what it waited for: a worker woken by
the reader waited for a batch; the reader woken by a worker waited for room
in that worker's queue; the main thread woken by a worker waited for its
round; a worker woken by main waited for the merge (room in its output
queue or in-flight credit). Sleeps are summed by (sleeper, waker) for the
whole run and for its phases: start (until the reader's first batch
reaches a worker), steady (until the reader ends) and end (after it).
Whenever fewer than 2 of the run's threads are runnable (running or waiting
for a CPU), a machine of its own would stand idle: that shortfall is summed
per phase, with which threads were runnable then; it holds on a loaded
machine too, where the idle CPU time itself says nothing. The
machine's idle CPU time (the idle task on each CPU) and the CPU time of the run's threads are summed the same way.
"""
import os
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^\s*(.+?)\s+(-?\d+)/(-?\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s+(.*)$")
SWITCH = re.compile(
    r"prev_comm=(.*?) prev_pid=(\d+) .*prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)")
WAKE = re.compile(r"comm=(.*?) pid=(\d+) ")


NCPU = int(os.environ.get("NCPU", "2"))


def short(name):
    return {"phonehome-reade": "reader", "phonehome-worke": "worker",
            "phonehome-signa": "signals"}.get(name, name)


def main():
    events = []
    for line in sys.stdin:
        m = LINE.match(line)
        if m:
            events.append(m.groups())
    # Our process: the pid of the reader thread.
    pid = next((e[1] for e in events if e[0].startswith("phonehome-reade")), None)
    if pid is None:
        print("idle-waits: no phonehome-reader thread in the trace", file=sys.stderr)
        return 1
    names = {}
    worker_no = {}
    for comm, p, tid, *_ in events:
        if p == pid and tid not in names and tid != "-1":
            if comm.startswith("phonehome-worke"):
                worker_no[tid] = len(worker_no)
                names[tid] = f"worker-{worker_no[tid]}"
            elif tid == pid:
                names[tid] = "main"
            else:
                names[tid] = short(comm)
    ours = set(names)
    t_start = min(float(e[4]) for e in events if e[1] == pid)
    t_end = max(float(e[4]) for e in events if e[1] == pid)
    reader = next(t for t, n in names.items() if n == "reader")
    reader_end = max(float(e[4]) for e in events if e[2] == reader)
    # The first time the reader wakes a worker: a batch is there.
    first_batch = t_start
    for comm, p, tid, cpu, t, ev, rest in events:
        if ev == "sched:sched_waking" and tid == reader:
            w = WAKE.match(rest)
            if w and w.group(2) in worker_no:
                first_batch = float(t)
                break
    phases = [("start", t_start, first_batch), ("steady", first_batch, reader_end),
              ("end", reader_end, t_end)]

    def phase(t):
        for n, lo, hi in phases:
            if lo <= t < hi:
                return n
        return "end"

    asleep = {}  # tid -> since
    sleeps = defaultdict(float)  # (phase, sleeper, waker) -> s
    counts = defaultdict(int)
    idle_since = {}  # cpu -> since
    idle = defaultdict(float)  # phase -> s
    on_cpu = {}  # cpu -> since, while one of ours runs there
    ran = defaultdict(float)  # phase -> CPU-s our threads ran

    def add(into, lo, hi):
        # Split an interval over the phases it spans, inside the run.
        for n, plo, phi in phases:
            a, b = max(lo, plo), min(hi, phi)
            if b > a:
                into[n] += b - a

    # Runnable (on a CPU or waiting for one) or asleep, per thread: the run
    # would stand idle on a machine of its own whenever fewer than 2 (the
    # CPUs) are runnable, whatever other processes did to its timing.
    runnable = set(ours)
    last_t = t_start
    short_of = defaultdict(float)  # phase -> CPU-s short of 2 runnable
    gaps = defaultdict(float)  # (phase, runnable set) -> s, while short

    def account(t):
        nonlocal last_t
        if t > last_t:
            live = {names[x] for x in runnable if names[x] != "signals"}
            if len(live) < NCPU:
                for n, plo, phi in phases:
                    a, b = max(last_t, plo), min(t, phi)
                    if b > a:
                        short_of[n] += (NCPU - len(live)) * (b - a)
                        gaps[(n, ",".join(sorted(live)) or "none")] += b - a
            last_t = t

    for comm, p, tid, cpu, t, ev, rest in events:
        t = float(t)
        account(t)
        if ev == "sched:sched_switch":
            m = SWITCH.search(rest)
            if not m:
                continue
            prev, state, nxt = m.group(2), m.group(3), m.group(5)
            if prev in ours and state[:1] in "SD":
                asleep[prev] = t
            if prev in ours and not state.startswith("R"):
                # Asleep, or gone (a thread that ended).
                runnable.discard(prev)
            if nxt == "0":
                idle_since[cpu] = t
            if prev == "0" and cpu in idle_since:
                add(idle, idle_since.pop(cpu), t)
            if cpu in on_cpu:
                add(ran, on_cpu.pop(cpu), t)
            if nxt in ours:
                on_cpu[cpu] = t
        elif ev == "sched:sched_waking":
            m = WAKE.match(rest)
            if not m:
                continue
            target = m.group(2)
            if target in ours:
                runnable.add(target)
            if target in asleep:
                since = asleep.pop(target)
                waker = names.get(tid, "other")
                key = (phase(since), names[target], waker)
                sleeps[key] += t - since
                counts[key] += 1
    wall = t_end - t_start
    for cpu, since in on_cpu.items():
        add(ran, since, t_end)
    print(f"run {wall:.3f} s: start {first_batch - t_start:.3f} s, steady "
          f"{reader_end - first_batch:.3f} s, end {t_end - reader_end:.3f} s")
    for n, lo, hi in phases:
        span = hi - lo
        if span <= 0:
            continue
        print(f"{n}: {span:.3f} s, the run on {ran[n] / span:.2f} CPUs "
              f"({ran[n]:.3f} CPU-s), machine idle {idle[n]:.3f} CPU-s; "
              f"fewer than {NCPU} threads runnable: {short_of[n]:.3f} CPU-s short "
              f"({short_of[n] / (NCPU * span) * 100:.1f} % idle on a machine of its own)")
        for v, (_, live) in sorted(((v, k) for k, v in gaps.items() if k[0] == n), reverse=True)[:4]:
            if v >= 0.001:
                print(f"    only {live} runnable: {v:.3f} s")
        rows = sorted(((v, k) for k, v in sleeps.items() if k[0] == n), reverse=True)
        for v, (_, sleeper, waker) in rows:
            if v >= 0.001:
                print(f"    {sleeper:<9} asleep {v:7.3f} s ({counts[(n, sleeper, waker)]:5} times), "
                      f"woken by {waker}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
