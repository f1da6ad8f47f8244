"""Warm Pythons for the tests' subprocess runs: `warm_run(kind, args, ...)` runs
`python *args` in a long-lived process of that kind (tests/warm_worker.py) and returns what
`subprocess.run(..., capture_output=True, text=True)` would.

Each kind is started once per test process (each pytest-xdist worker), on first use:

- `"jax"`: Keras on JAX (CPU), with this tree's bertcls and tests/ importable;
- `"tensorflow"`: Keras on TensorFlow, with this tree's bertcls importable;
- `"bare"`: `python -I`, nothing of this tree importable: for checks that something loads
  without bertcls (the worker refuses to reply if a script imported it).

A script that crashes or runs past `timeout` takes its worker with it; the next call starts a
fresh one. Checks whose subject is a fresh process (start-up output, process-wide settings
such as logical devices or XLA flags, several processes at once) keep `subprocess`.
"""

import atexit
import json
import os
import pathlib
import select
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "warm_worker.py"
FORGET = [REPO / "tests", REPO / "examples", REPO / "benchmarks"]
# Variables a worker's kind fixes at start: a request may not change them.
FIXED = ("KERAS_BACKEND", "JAX_PLATFORMS", "PYTHONPATH", "XLA_FLAGS")


def _base_env(kind):
    env = {k: v for k, v in os.environ.items()
           if k not in FIXED and not k.startswith("KERAS_DISTRIBUTION")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONIOENCODING="utf-8")
    if kind == "jax":
        # LLVM's optimisation of XLA:CPU code takes a third of these tests' time and
        # changes no result they check (their tolerances hold at either level).
        env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
                   XLA_FLAGS="--xla_backend_optimization_level=0",
                   PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    elif kind == "tensorflow":
        env.update(KERAS_BACKEND="tensorflow", PYTHONPATH=str(REPO))
    elif kind == "bare":
        env.update(BERTCLS_WARM_BARE="1")
    else:
        raise ValueError(f"kind must be 'jax', 'tensorflow' or 'bare', received {kind!r}")
    return env


class WarmPython:
    def __init__(self, kind):
        self.kind = kind
        self.env = _base_env(kind)
        self.proc = None
        self.folder = tempfile.mkdtemp(prefix=f"warm-{kind}-")

    def _start(self):
        flags = ["-I"] if self.kind == "bare" else []
        self.proc = subprocess.Popen(
            [sys.executable, *flags, str(WORKER), *map(str, FORGET)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env, cwd=REPO,
            text=True, bufsize=1)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def run(self, args, *, env=None, cwd=None, timeout=300):
        """`python *args` (`["-c", code, *argv]` or `[path, *argv]`), with the variables in
        `env` set on top of the worker's own, in `cwd` (default: the repository)."""
        args = [str(a) for a in args]
        env = dict(env or {})
        for name in FIXED:
            if name in env and env[name] != self.env.get(name):
                raise ValueError(f"{name}={env[name]!r} differs from the {self.kind!r} "
                                 f"worker's {self.env.get(name)!r}: use subprocess instead")
        job = {"env": {k: v for k, v in env.items() if k not in FIXED},
               "cwd": str(cwd or REPO),
               "stdout": os.path.join(self.folder, "stdout"),
               "stderr": os.path.join(self.folder, "stderr")}
        if args[0] == "-c":
            job.update(code=args[1], argv=args[2:])
        else:
            job.update(path=os.path.abspath(args[0]), argv=args[1:])
        for name in ("stdout", "stderr"):
            open(job[name], "w").close()
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        reply = self.proc.stdout.readline() if ready else ""
        if not ready:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        out, err = (pathlib.Path(job[n]).read_text(encoding="utf-8", errors="replace")
                    for n in ("stdout", "stderr"))
        if not ready:
            raise subprocess.TimeoutExpired([sys.executable, *args], timeout, out, err)
        if reply:
            code = json.loads(reply)["returncode"]
        else:  # the script ended the worker (a crash, os._exit)
            code = self.proc.wait()
            self.proc = None
        return subprocess.CompletedProcess([sys.executable, *args], code, out, err)


_WORKERS = {}


def warm_run(kind, args, *, env=None, cwd=None, timeout=300):
    """Run `python *args` in this process's warm worker of `kind` (see the module docstring);
    a `subprocess.CompletedProcess` with text stdout and stderr."""
    if kind not in _WORKERS:
        _WORKERS[kind] = WarmPython(kind)
    return _WORKERS[kind].run(args, env=env, cwd=cwd, timeout=timeout)


@atexit.register
def _close_all():
    for worker in _WORKERS.values():
        worker.close()
