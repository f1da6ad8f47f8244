"""Wall and CPU time of every example's `--quick` mode, run as a user runs it (one subprocess
each, one after the other), with the last lines each printed.

    python benchmarks/quick_examples.py --data-dir DIR [--only korsts_similarity ...]

DIR holds the datasets as `klue-nli/`, `kornli/`, `korsts/` and `korquad/` (the NSMC and
KLUE-NER quick modes use the slices bundled in examples/data). The goal (issue: everyday
quality) is <= 3 minutes of wall time each on a 2-core machine; run it on an idle machine.
Writes benchmarks/results/quick_examples.json.
"""

import argparse
import os
import pathlib
import resource
import subprocess
import sys
import time

from common import REPO, finish_report, report_header

RUNS = {
    "nsmc_sentiment": lambda data: ["--quick"],
    "klue_ner": lambda data: ["--quick"],
    "klue_nli": lambda data: ["--quick", "--data-dir", str(data / "klue-nli")],
    "klue_nli --task kornli": lambda data: ["--task", "kornli", "--quick",
                                            "--data-dir", str(data / "kornli")],
    "korsts_similarity": lambda data: ["--quick", "--data-dir", str(data / "korsts")],
    "korquad_qa": lambda data: ["--quick", "--data-dir", str(data / "korquad")],
    "korquad_open": lambda data: ["--quick", "--data-dir", str(data / "korquad")],
}


def run(name, data):
    script = REPO / "examples" / (name.split()[0] + ".py")
    argv = [sys.executable, str(script), *RUNS[name](data)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8",
                          env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shown = [arg.replace(str(data), "DIR") for arg in argv[2:]]  # not this machine's path
    return {"command": " ".join(["python", os.path.relpath(script, REPO)] + shown),
            "returncode": done.returncode, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "within_3_minutes": wall <= 180,
            "last_lines": done.stdout.strip().splitlines()[-15:] if done.returncode == 0
            else done.stderr.strip().splitlines()[-5:]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=pathlib.Path,
                        help="directory holding klue-nli/, kornli/, korsts/, korquad/")
    parser.add_argument("--only", nargs="*", choices=sorted(RUNS), default=None,
                        help="run these quick modes only")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" /
                                             "quick_examples.json"))
    args = parser.parse_args()
    start = time.perf_counter()
    argv = [arg.replace(str(args.data_dir), "DIR") for arg in sys.argv]
    report = dict(report_header(argv), runs={})
    for name in args.only or RUNS:
        result = run(name, args.data_dir)
        report["runs"][name] = result
        print(f"{name:24s} wall {result['wall_s']:6.1f} s  cpu {result['cpu_s']:6.1f} s  "
              f"rc {result['returncode']}", flush=True)
    finish_report(report, time.perf_counter() - start, args.out)


if __name__ == "__main__":
    main()
