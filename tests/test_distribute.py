"""Tests for `bertcls.training.distribute`.

Training equivalence runs in subprocesses (tests/distribute_scripts/): TensorFlow's logical
devices must be configured before its runtime starts, and JAX processes are separate by nature.
Nobody can reach a TPU here, so the TPU branch runs against a faked resolver.
"""

import doctest
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import keras
import numpy as np
import pytest

from bertcls.training import callbacks, distribute
from bertcls.training.callbacks import BackupAndRestore
from bertcls.training.distribute import (DeviceNotFoundError, Runtime, get_strategy, process_shard,
                                         set_mixed_precision)
from warm import warm_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(REPO, "tests", "distribute_scripts")
TIMEOUT = 300  # seconds for any one subprocess; a healthy run takes well under a minute
TOLERANCE = 1e-5  # max absolute weight difference after 8 Adam steps in float32

tensorflow_only = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                     reason="the TensorFlow branch runs in this process")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in distribute.MULTI_PROCESS_ENV
           and k not in ("COLAB_TPU_ADDR", "TPU_NAME", "XLA_FLAGS")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO, **extra)  # this tree's bertcls
    return env


def run_together(commands, timeout=TIMEOUT):
    """Run `(argv, env)` pairs at once; returns their outputs. If one fails or they run past
    `timeout`, the others are killed (a JAX process whose peer died would wait for it)."""
    logs = [tempfile.TemporaryFile(mode="w+") for _ in commands]  # files: no pipe to fill up
    procs = [subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              text=True) for (argv, env), log in zip(commands, logs)]
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs):
            if time.monotonic() > deadline or any(p.poll() for p in procs):
                break
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
        log.close()
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, f"exit {proc.returncode}:\n{out[-4000:]}"
    return outputs


def result(output):
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, output[-4000:]
    return json.loads(lines[-1][len("RESULT "):])


def load_weights(path):
    arrays = np.load(path)
    return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


def max_difference(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))


# === Training equivalence ===

def test_mirrored_over_two_cpus_trains_like_one_device():
    out, = run_together([([sys.executable, os.path.join(SCRIPTS, "mirrored_vs_single.py")],
                          clean_env(KERAS_BACKEND="tensorflow"))])
    found = result(out)
    print("single vs mirrored, max |weight difference|:", found["max_difference"])
    assert found["strategy"] == "MirroredStrategy" and found["num_replicas"] == 2
    assert found["kind"] == "cpu" and found["epochs"] == 2
    assert found["moved"] > 1e-2  # training changed the weights ...
    assert found["max_difference"] < TOLERANCE  # ... the same way on one device and two


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.jax
def test_two_jax_processes_end_identical_and_match_one_process(tmp_path):
    port = free_port()
    script = os.path.join(SCRIPTS, "jax_train.py")
    jax_env = dict(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
                   JAX_CPU_COLLECTIVES_IMPLEMENTATION="gloo",
                   XLA_FLAGS="--xla_backend_optimization_level=0")  # as tests/warm.py
    commands = [([sys.executable, script, str(tmp_path / "single")], clean_env(**jax_env))]
    for index in range(2):
        commands.append(([sys.executable, script, str(tmp_path / f"process{index}")], clean_env(
            KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
            KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(index),
            JAX_COORDINATOR_BIND_ADDRESS=f"127.0.0.1:{port}",  # listen on loopback only
            **jax_env)))
    single, first, second = [result(out) for out in run_together(commands)]

    assert single["num_processes"] == 1 and single["shard"] == [1, 0]
    for index, found in enumerate((first, second)):
        assert found["num_processes"] == 2 and found["process_index"] == index
        assert found["num_replicas"] == 2 and found["shard"] == [2, index]
        assert found["epochs"] == 4 and found["kind"] == "cpu"
    for mode in ("global", "sharded"):  # Keras shards the input / process_shard does
        reference = load_weights(tmp_path / f"single_{mode}.npz")
        weights = [load_weights(tmp_path / f"process{i}_{mode}.npz") for i in range(2)]
        between = max_difference(*weights)
        to_single = max_difference(weights[0], reference)
        print(f"JAX {mode} input: process 0 vs 1 {between}, 2 processes vs 1: {to_single}")
        assert between == 0.0
        assert to_single < TOLERANCE


@pytest.mark.jax
def test_jax_backend_sets_up_data_parallel():
    script = textwrap.dedent("""
        import keras
        from bertcls import DeviceNotFoundError, get_strategy, process_shard, set_mixed_precision

        runtime = get_strategy()
        assert (runtime.backend, runtime.kind) == ("jax", "cpu"), runtime
        assert runtime.num_replicas == 2 and runtime.num_processes == 1, runtime
        assert isinstance(runtime.distribution, keras.distribution.DataParallel)
        assert keras.distribution.distribution() is runtime.distribution
        assert runtime.strategy is None and runtime.steps_per_execution == 1
        assert runtime.global_batch_size(4) == 8 and process_shard() == (1, 0)
        assert get_strategy("cpu").num_replicas == 2
        for kind in ("tpu", "gpu"):
            try:
                get_strategy(kind)
                raise AssertionError(kind)
            except DeviceNotFoundError as error:
                assert kind in str(error)
        for kwargs in ({"tpu": "grpc://10.0.0.1:8470"}, {"kind": "multi_worker_mirrored"}):
            try:
                get_strategy(**kwargs)
                raise AssertionError(kwargs)
            except ValueError:
                pass
        assert set_mixed_precision("auto", runtime) == "float32"
        # Device names are checked when the strategy is made, not when a model is built.
        mirrored = get_strategy("mirrored", devices=["/CPU:1", "cpu:0"])
        assert list(mirrored.distribution.device_mesh.devices) == ["cpu:1", "cpu:0"]
        for devices, error, text in (
                (["/gpu:0", "banana"], ValueError, "'banana', which is not a device name"),
                (["/gpu:0", "cpu:0"], DeviceNotFoundError, "['/gpu:0'], which JAX does not"),
                (["cpu:0", "cpu:7"], DeviceNotFoundError, "['cpu:7']"),
                (["cpu:0", "/cpu:0"], ValueError, "twice"),
                ("cpu:0", ValueError, "list of device names")):
            try:
                get_strategy("mirrored", devices=devices)
                raise AssertionError(devices)
            except error as caught:
                assert text in str(caught), (devices, str(caught))
        print("JAX_BRANCH_OK")
    """)
    env = clean_env(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
                    XLA_FLAGS="--xla_force_host_platform_device_count=2")
    out, = run_together([([sys.executable, "-c", script], env)])
    assert "JAX_BRANCH_OK" in out, out[-4000:]


# === Fault tolerance ===

def test_backup_and_restore_resumes_after_repeated_kills(tmp_path):
    backup, log = tmp_path / "backup", tmp_path / "events.jsonl"
    argv = [sys.executable, os.path.join(SCRIPTS, "backup_run.py"), str(backup), str(log)]
    env = clean_env(KERAS_BACKEND="tensorflow")
    for _ in range(2):  # killed twice in epoch 1 (0-based), after its mid-epoch backup
        killed = subprocess.run(argv + ["1", "2"], env=env, cwd=REPO, capture_output=True,
                                text=True, timeout=TIMEOUT)
        assert killed.returncode == 17, killed.stderr[-4000:]
    run_together([(argv, env)])  # resumed in a new process, as after a kill
    # The reference run, never killed, in the suite's warm TensorFlow worker (tests/warm.py).
    uninterrupted = tmp_path / "uninterrupted.jsonl"
    reference_run = warm_run("tensorflow", argv[1:2] + [tmp_path / "other", uninterrupted],
                             timeout=TIMEOUT)
    assert reference_run.returncode == 0, reference_run.stderr[-4000:]
    events = [json.loads(line) for line in log.read_text().splitlines()]
    begins = [i for i, e in enumerate(events) if e["event"] == "train_begin"]
    last_run = events[begins[-1]:]
    finished = events[-1]

    # 4 steps an epoch; backups every 2. Each start resumes from the last backup (epoch 0 and
    # 2 steps of epoch 1 = 6 steps), skipping the 2 batches of epoch 1 that backup has seen.
    assert [events[i]["iterations"] for i in begins] == [0, 6, 6]
    assert [events[i + 1]["epoch"] for i in begins] == [0, 1, 1]
    steps = [(e["epoch"], e["batch"], e["iterations"]) for e in last_run
             if e["event"] == "batch_end"]
    assert steps[:4] == [(1, 0, 6), (1, 1, 6), (1, 2, 7), (1, 3, 8)]  # 0, 1 skipped, no step
    assert [s[2] for s in steps[2:]] == list(range(7, 17))  # then one step per batch
    assert finished["event"] == "finished" and finished["epochs"] == [1, 2, 3]
    assert finished["iterations"] == 4 * 4  # no optimizer step repeated or lost
    assert not backup.exists()  # deleted once training completed
    # ... and the same weights as the run that was never killed.
    reference = load_weights(str(uninterrupted) + ".npz")
    assert max_difference(load_weights(str(log) + ".npz"), reference) < 1e-6


@tensorflow_only
def test_backup_directory_is_per_process_only_with_several(tmp_path, monkeypatch):
    assert BackupAndRestore(str(tmp_path)).backup_dir == str(tmp_path)
    monkeypatch.setattr(callbacks, "process_shard", lambda: (2, 1))
    assert BackupAndRestore(tmp_path).backup_dir == str(tmp_path / "process_1")


# === Choosing a strategy (TensorFlow, TPU faked) ===

@pytest.fixture
def fake_tpu(monkeypatch):
    """Replace TensorFlow's TPU entry points; return the calls they received."""
    import tensorflow as tf

    calls = {"resolver": [], "connect": 0, "initialize": 0}

    class FakeResolver:
        def __init__(self, tpu=None):
            calls["resolver"].append(tpu)
            if tpu == "missing-tpu":
                raise ValueError("Could not lookup TPU metadata")

    class FakeTPUStrategy:
        num_replicas_in_sync = 8

        def __init__(self, resolver):
            self.resolver = resolver

    def connect(resolver):
        calls["connect"] += 1

    def initialize(resolver):
        calls["initialize"] += 1

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", FakeResolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", connect)
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", initialize)
    monkeypatch.setattr(tf.distribute, "TPUStrategy", FakeTPUStrategy)
    monkeypatch.setattr(distribute, "_TPU_STRATEGIES", {})
    monkeypatch.setattr(distribute, "_local_tpu_attached", lambda: False)
    monkeypatch.setattr(distribute, "_tcp_unreachable", lambda address, timeout: None)
    for name in ("COLAB_TPU_ADDR", "TPU_NAME"):
        monkeypatch.delenv(name, raising=False)
    return calls


@pytest.fixture
def no_gpu(monkeypatch):
    import tensorflow as tf

    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [] if kind == "GPU" else real(kind))


@tensorflow_only
def test_colab_tpu_address_becomes_grpc(fake_tpu, monkeypatch):
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    runtime = get_strategy()
    assert fake_tpu["resolver"] == ["grpc://10.0.0.2:8470"]
    assert fake_tpu["connect"] == 1 and fake_tpu["initialize"] == 1
    assert (runtime.kind, runtime.num_replicas, runtime.backend) == ("tpu", 8, "tensorflow")
    assert runtime.tpu_address == "grpc://10.0.0.2:8470"
    assert runtime.steps_per_execution == distribute.TPU_STEPS_PER_EXECUTION
    assert runtime.global_batch_size(16) == 128


@tensorflow_only
def test_tpu_name_from_environment(fake_tpu, monkeypatch):
    monkeypatch.setenv("TPU_NAME", "my-tpu")
    assert get_strategy("tpu").tpu_address == "my-tpu"
    assert fake_tpu["resolver"] == ["my-tpu"] and fake_tpu["connect"] == 1


@tensorflow_only
def test_explicit_tpu_wins_over_environment(fake_tpu, monkeypatch):
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    runtime = get_strategy("tpu", tpu="grpc://10.9.9.9:8470", steps_per_execution=4)
    assert fake_tpu["resolver"] == ["grpc://10.9.9.9:8470"]
    assert runtime.steps_per_execution == 4


@tensorflow_only
def test_tpu_vm_uses_local_tpu_without_remote_connection(fake_tpu, monkeypatch):
    monkeypatch.setattr(distribute, "_local_tpu_attached", lambda: True)
    assert get_strategy().tpu_address == "local"
    assert fake_tpu["resolver"] == ["local"]
    assert fake_tpu["connect"] == 0 and fake_tpu["initialize"] == 1


@tensorflow_only
def test_connecting_twice_initializes_the_tpu_once(fake_tpu, monkeypatch):
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    first = get_strategy("tpu")
    second = get_strategy("auto")
    assert first.strategy is second.strategy
    assert fake_tpu["initialize"] == 1 and fake_tpu["connect"] == 1


@tensorflow_only
def test_tpu_requested_but_absent_raises(fake_tpu, no_gpu):
    with pytest.raises(DeviceNotFoundError, match="no TPU was found"):
        get_strategy("tpu")
    with pytest.raises(DeviceNotFoundError, match="missing-tpu"):
        get_strategy("tpu", tpu="missing-tpu")
    assert fake_tpu["initialize"] == 0


@tensorflow_only
def test_auto_without_accelerators_is_the_default_strategy(fake_tpu, no_gpu):
    import tensorflow as tf

    runtime = get_strategy()
    assert runtime.strategy is tf.distribute.get_strategy()
    assert (runtime.kind, runtime.num_replicas, runtime.steps_per_execution) == ("cpu", 1, 1)
    assert fake_tpu["resolver"] == []
    assert get_strategy("cpu").kind == "cpu"
    with runtime.scope():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(loss="mse", steps_per_execution=runtime.steps_per_execution)
    assert model.fit(np.ones((4, 2)), np.ones(4), verbose=0).history["loss"]


@tensorflow_only
def test_auto_mirrors_over_two_gpus(fake_tpu, monkeypatch):
    import tensorflow as tf

    class FakeMirrored:
        num_replicas_in_sync = 2

    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: ["gpu0", "gpu1"] if kind == "GPU" else [])
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", FakeMirrored)
    runtime = get_strategy()
    assert isinstance(runtime.strategy, FakeMirrored)
    assert (runtime.kind, runtime.num_replicas) == ("gpu", 2)


@tensorflow_only
def test_cpu_keeps_off_a_visible_gpu(monkeypatch):
    import tensorflow as tf

    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: ["gpu0"] if kind == "GPU" else real(kind))
    runtime = get_strategy("cpu")
    assert isinstance(runtime.strategy, tf.distribute.OneDeviceStrategy)
    assert (runtime.kind, runtime.num_replicas) == ("cpu", 1)


@tensorflow_only
def test_gpu_requested_without_gpu_raises(no_gpu):
    with pytest.raises(DeviceNotFoundError, match="no GPU"):
        get_strategy("gpu")


@tensorflow_only
def test_unknown_kind_names_the_accepted_values():
    with pytest.raises(ValueError, match=r"one of \('auto', 'tpu'.*received 'tpuu'"):
        get_strategy("tpuu")
    with pytest.raises(ValueError, match="20585"):
        get_strategy("multi_worker_mirrored")
    with pytest.raises(ValueError, match="steps_per_execution"):
        get_strategy("cpu", steps_per_execution=0)
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        get_strategy("cpu", num_processes=2)
    with pytest.raises(ValueError, match="`tpu` applies to kind 'auto' or 'tpu'"):
        get_strategy("gpu", tpu="local")
    with pytest.raises(ValueError, match="`devices` applies to kind 'mirrored'"):
        get_strategy("cpu", devices=["/cpu:0"])


# === Small pieces ===

def test_global_batch_size():
    runtime = Runtime("tensorflow", "tpu", num_replicas=8)
    assert runtime.global_batch_size(32) == 256
    assert "num_replicas=8" in repr(runtime)
    for bad in (0, 2.5, "8"):
        with pytest.raises(ValueError, match="per_replica_batch_size"):
            runtime.global_batch_size(bad)


@tensorflow_only
def test_process_shard_on_tensorflow_is_one_process():
    assert process_shard() == (1, 0)


@pytest.fixture
def restore_policy():
    policy = keras.mixed_precision.global_policy()
    yield
    keras.mixed_precision.set_global_policy(policy)


def test_set_mixed_precision(restore_policy):
    for kind, expected in (("tpu", "mixed_bfloat16"), ("gpu", "mixed_float16"),
                           ("cpu", "float32")):
        assert set_mixed_precision("auto", runtime=Runtime("jax", kind, 1)) == expected
        assert keras.mixed_precision.global_policy().name == expected
    assert set_mixed_precision("float16") == "mixed_float16"
    assert set_mixed_precision(None) == "float32"
    with pytest.raises(ValueError, match="received 'fp16'"):
        set_mixed_precision("fp16")


@tensorflow_only
def test_doctests(restore_policy):
    result = doctest.testmod(distribute)
    assert result.failed == 0 and result.attempted >= 6
