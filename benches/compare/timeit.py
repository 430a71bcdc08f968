"""Times a command: best wall time of up to N runs, and the peak RSS of that run.

usage: timeit.py [--runs N] [--budget SECONDS] [--out FILE] -- COMMAND [ARG...]

Stdout of each run goes to FILE (default /dev/null), stderr to FILE.err. A run that exits non-zero
stops everything (exit 1, stderr shown). Another run starts only while the runs so far plus one more
of the same length fit in the budget, so a slow contender (jq) is run once. Prints one line:
"WALL_SECONDS PEAK_RSS_KB RUNS".

Peak RSS is the largest single process of the command's tree (for a pipeline: its biggest stage),
as GNU time's %M reports it; GNU time runs the command when /usr/bin/time exists (its own start-up
is ~1 ms of the wall time). Otherwise it comes from wait4(), which also counts the ~14 MB of this
Python process, forked before the command's exec.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--budget", type=float, default=90.0)
ap.add_argument("--out", default=os.devnull)
ap.add_argument("cmd", nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
if not cmd:
    ap.error("no command")

use_time = os.access(GNU_TIME, os.X_OK)
rss_file = tempfile.NamedTemporaryFile(prefix="timeit-rss.", delete=False).name
argv = [GNU_TIME, "-f", "%M", "-o", rss_file, "--", *cmd] if use_time else cmd
err_path = os.devnull if a.out == os.devnull else a.out + ".err"

best = None
spent = 0.0
runs = 0
try:
    while runs < max(a.runs, 1):
        with open(a.out, "wb") as out, open(err_path, "wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.stderr.write(f"timeit: {' '.join(cmd)!r} exited with {code}\n")
            if err_path != os.devnull:
                sys.stderr.write(open(err_path, errors="replace").read()[-4000:])
            sys.exit(1)
        rss = int(open(rss_file).read().split()[-1]) if use_time else usage.ru_maxrss
        runs += 1
        spent += wall
        if best is None or wall < best[0]:
            best = (wall, rss)
        if spent + wall > a.budget:
            break
finally:
    os.unlink(rss_file)
print(f"{best[0]:.4f} {best[1]} {runs}")
