"""A warm Python for the suite's subprocess runs (tests/warm.py starts and drives it).

Most of what a test's fresh process costs is its start-up: `import bertcls` imports
TensorFlow (or JAX) in about 7 s on this 2-core machine, longer than many of the scripts that
follow it. This process imports once and then runs script after script, each as
`python -c CODE ARGS` or `python PATH ARGS` would, one at a time:

- the script's stdout and stderr (file descriptors 1 and 2, so also what C++ code prints) go to
  the files the request names; the reply line goes to the original stdout;
- `sys.argv`, `sys.path[0]`, the working directory and the environment variables are the
  request's, and are restored afterwards, as are the warnings filters, the logging
  configuration and Keras' global dtype policy and session;
- modules the script imported from the repository's tests/, examples/ or benchmarks/ folders
  are forgotten, so two scripts' `common.py` never meet;
- `SystemExit` gives the return code; any other exception prints its traceback to the
  script's stderr and returns 1, as Python does.

What a script cannot undo (a crash, `os._exit`, a hung call) ends this process; tests/warm.py
then reports it like a failed or timed-out subprocess and starts a fresh one.

    python tests/warm_worker.py FORGET_DIR...     (requests on stdin, one JSON per line)
"""

import builtins
import gc
import json
import logging
import os
import runpy
import sys
import traceback
import warnings


def _logging_state():
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)]
    return {id(logger): (logger, logger.level, list(logger.handlers), logger.propagate,
                         logger.disabled) for logger in loggers}


def _restore_logging(state):
    for logger, level, handlers, propagate, disabled in state.values():
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.disabled = disabled


def _reset_keras():
    keras = sys.modules.get("keras")
    if keras is None:
        return
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


def _exit_code(error):
    if error.code is None:
        return 0
    if isinstance(error.code, int):
        return error.code
    print(error.code, file=sys.stderr)
    return 1


def run_one(job, forget):
    """Run one request; its return code."""
    before_modules = set(sys.modules)
    environ, cwd, path, argv = dict(os.environ), os.getcwd(), list(sys.path), list(sys.argv)
    logging_state = _logging_state()
    os.environ.update(job["env"])
    for name in job.get("unset", ()):
        os.environ.pop(name, None)
    os.chdir(job["cwd"])
    code = 0
    try:
        with warnings.catch_warnings():
            if job.get("path"):
                sys.argv = [job["path"], *job["argv"]]
                sys.path.insert(0, os.path.dirname(os.path.abspath(job["path"])))
                runpy.run_path(job["path"], run_name="__main__")
            else:
                sys.argv = ["-c", *job["argv"]]
                sys.path.insert(0, "")
                exec(compile(job["code"], "<string>", "exec"),
                     {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as error:
        code = _exit_code(error)
    except BaseException:  # noqa: B902  (as Python reports an uncaught exception)
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(cwd)
        sys.path[:] = path
        sys.argv = argv
        _restore_logging(logging_state)
        for name in set(sys.modules) - before_modules:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if any(os.path.abspath(file).startswith(folder) for folder in forget):
                del sys.modules[name]
        try:
            _reset_keras()
        except Exception:  # noqa: BLE001  (a reset that fails must not stop the replies)
            traceback.print_exc()
            code = code or 1
        gc.collect()
    if os.environ.get("BERTCLS_WARM_BARE") and sys.modules.get("bertcls") is not None:
        print("this worker runs without bertcls, and the script imported it", file=sys.stderr)
        code = code or 1
    return code


def main():
    forget = [os.path.abspath(folder) + os.sep for folder in sys.argv[1:]]
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # between scripts, nothing but the replies reaches the original stdout
    os.dup2(quiet, 2)
    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        out = os.open(job["stdout"], os.O_WRONLY | os.O_TRUNC)
        err = os.open(job["stderr"], os.O_WRONLY | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        try:
            code = run_one(job, forget)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
        replies.write(json.dumps({"returncode": code}) + "\n")


if __name__ == "__main__":
    main()
