#!/usr/bin/env python3
"""Where a run's threads wait, over time, with almost no overhead.

    bench/idle.py [--every MS] [--bucket MS] -- CMD...

Samples /proc/PID/task/*/schedstat (cumulative ns on a CPU, ns runnable but
waiting for one) and /proc/stat (the machine's idle) every --every ms while
CMD runs, then prints per --bucket ms: each thread's share of the bucket on
a CPU, waiting for a CPU ("rq") and asleep (waiting on another thread or on
I/O), how many CPUs the process used, and how many stood idle. A summary
follows: the same split over the whole run and for its start (before the
first worker ran), its steady state and its end (after the reader ended).
"""
import argparse
import os
import subprocess
import sys
import time


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def sample(pid):
    """{tid: (name, run_ns, rq_ns)} of every live thread of pid."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        st = read(f"/proc/{pid}/task/{tid}/schedstat")
        name = read(f"/proc/{pid}/task/{tid}/comm")
        if st is None or name is None:
            continue
        run, rq, _ = st.split()
        out[tid] = (name.strip(), int(run), int(rq))
    return out


def cpu_idle():
    """(idle + iowait jiffies, all jiffies) of the machine."""
    line = (read("/proc/stat") or "cpu 0").splitlines()[0].split()[1:]
    v = [int(x) for x in line]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return idle, sum(v[:8])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=float, default=5)
    ap.add_argument("--bucket", type=float, default=100)
    ap.add_argument("--quiet", action="store_true", help="summary only")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    ncpu = os.cpu_count() or 1
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    samples = []  # (t, {tid: (name, run, rq)}, idle, all)
    while p.poll() is None:
        idle, tot = cpu_idle()
        samples.append((time.monotonic() - t0, sample(p.pid), idle, tot))
        time.sleep(a.every / 1000)
    wall = time.monotonic() - t0
    if len(samples) < 2:
        print("idle: the run was too short to sample", file=sys.stderr)
        return 1
    names = {}
    for _, s, _, _ in samples:
        for tid, (n, _, _) in s.items():
            names.setdefault(tid, n)
    tids = sorted(names, key=int)
    # Per sample interval and thread: ns on a CPU and on the run queue.
    rows = []
    last = {}
    for (t1, s1, i1, a1), (t2, s2, i2, a2) in zip(samples, samples[1:]):
        per = {}
        for tid in tids:
            if tid in s2:
                prev = s1.get(tid, last.get(tid, (None, 0, 0)))
                per[tid] = (s2[tid][1] - prev[1], s2[tid][2] - prev[2], True)
                last[tid] = s2[tid]
            else:
                per[tid] = (0, 0, tid in s1)
        jiff = max(a2 - a1, 1)
        rows.append((t1, t2, per, (i2 - i1) / jiff * ncpu))

    def split(lo, hi):
        """(per-thread (run, rq, sleep, alive) s, process CPUs, idle CPUs) over [lo, hi)."""
        sel = [r for r in rows if r[0] >= lo and r[1] <= hi]
        if not sel:
            return None
        span = sum(r[1] - r[0] for r in sel)
        per = {}
        for tid in tids:
            run = sum(r[2][tid][0] for r in sel) / 1e9
            rq = sum(r[2][tid][1] for r in sel) / 1e9
            alive = sum(r[1] - r[0] for r in sel if r[2][tid][2])
            per[tid] = (run, rq, max(alive - run - rq, 0.0), alive)
        used = sum(v[0] for v in per.values()) / span
        idle = sum(r[3] * (r[1] - r[0]) for r in sel) / span
        return span, per, used, idle

    def show(title, lo, hi):
        r = split(lo, hi)
        if r is None:
            return
        span, per, used, idle = r
        print(f"{title}: {lo:.2f}-{hi:.2f} s ({span:.2f} s): process on "
              f"{used:.2f} of {ncpu} CPUs, machine idle {idle:.2f} CPUs")
        for tid in tids:
            run, rq, sl, alive = per[tid]
            if alive <= 0:
                continue
            print(f"    {names[tid]:<18} run {run:6.3f} s  rq {rq:6.3f} s  "
                  f"asleep {sl:6.3f} s")

    if not a.quiet:
        print(f"{'t (s)':>6} {'CPUs':>5} {'idle':>5}  " +
              " ".join(f"{names[t][:16]:>16}" for t in tids))
        b = a.bucket / 1000
        t = rows[0][0]
        while t < rows[-1][1]:
            r = split(t, t + b)
            if r is not None:
                _, per, used, idle = r
                cells = []
                for tid in tids:
                    run, rq, sl, alive = per[tid]
                    span = max(alive, 1e-9)
                    cells.append("" if alive <= 0 else
                                 f"{run / span * 100:3.0f}/{rq / span * 100:3.0f}/{sl / span * 100:3.0f}")
                print(f"{t:6.2f} {used:5.2f} {idle:5.2f}  " +
                      " ".join(f"{c:>16}" for c in cells))
            t += b
        print("(per thread: % of the bucket on a CPU / waiting for one / asleep)")
    # Phases: start = before any worker ran; end = after the reader's last sample.
    first_work = next((r[0] for r in rows if any(
        names[t].startswith("phonehome-worke") and r[2][t][0] > 0 for t in tids)), rows[0][0])
    reader_end = max((r[1] for r in rows if any(
        names[t].startswith("phonehome-reade") and r[2][t][2] for t in tids)), default=rows[-1][1])
    print(f"wall {wall:.2f} s; load average {read('/proc/loadavg').split()[0]}")
    show("whole run", rows[0][0], rows[-1][1])
    show("start (until a worker runs)", rows[0][0], first_work)
    show("steady (until the reader ends)", first_work, reader_end)
    show("end (after the reader)", reader_end, rows[-1][1])
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
