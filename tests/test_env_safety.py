"""Stale TPU variables and garbage in the JAX multi-process variables (issue #10): a bounded
wait and an error (or, for kind='auto', a warning) that names the variable."""

import os
import socket
import subprocess
import sys
import textwrap
import time

import keras
import pytest

from bertcls.training import distribute
from bertcls.training.distribute import DeviceNotFoundError, get_strategy

tensorflow_only = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                     reason="the TensorFlow branch runs in this process")


@pytest.fixture
def tpu_calls(monkeypatch):
    """A TPUClusterResolver that hangs for names starting with 'hang', else answers with the
    address it was given as its master; TPU initialisation is recorded, not run."""
    import tensorflow as tf

    calls = {"initialize": 0}

    class Resolver:
        def __init__(self, tpu=None):
            if tpu.startswith("hang"):
                time.sleep(30)
            self.address = tpu if tpu.startswith("grpc://") else "grpc://" + tpu

        def master(self):
            return self.address

    class Strategy:
        num_replicas_in_sync = 8

        def __init__(self, resolver):
            pass

    def initialize(resolver):
        calls["initialize"] += 1

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", Resolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda resolver: None)
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", initialize)
    monkeypatch.setattr(tf.distribute, "TPUStrategy", Strategy)
    monkeypatch.setattr(distribute, "_TPU_STRATEGIES", {})
    monkeypatch.setattr(distribute, "_local_tpu_attached", lambda: False)
    for name in ("COLAB_TPU_ADDR", "TPU_NAME"):
        monkeypatch.delenv(name, raising=False)
    return calls


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@tensorflow_only
def test_stale_colab_address_falls_back_with_a_warning(tpu_calls, monkeypatch):
    monkeypatch.setenv("COLAB_TPU_ADDR", f"127.0.0.1:{closed_port()}")
    with pytest.warns(UserWarning, match="COLAB_TPU_ADDR.*unset it.*continues without a TPU"):
        runtime = get_strategy("auto")
    assert runtime.kind in ("cpu", "gpu") and runtime.tpu_address is None
    with pytest.raises(DeviceNotFoundError, match="from COLAB_TPU_ADDR.*did not answer"):
        get_strategy("tpu")
    assert tpu_calls["initialize"] == 0


def black_hole(address, timeout=None):
    """`socket.create_connection` to a host that drops packets: silence until the timeout."""
    time.sleep(timeout)
    raise socket.timeout("timed out")


@tensorflow_only
@pytest.mark.parametrize("variable, value", [("TPU_NAME", "hang-old-node"),
                                             ("COLAB_TPU_ADDR", "10.255.255.1:8470")])
def test_hanging_tpu_is_given_up_within_the_timeout(tpu_calls, monkeypatch, variable, value):
    # A name whose lookup hangs; an address that never answers (this sandbox's network accepts
    # any TCP connection, so the silent host is simulated): the wait is bounded by tpu_timeout.
    monkeypatch.setattr(distribute.socket, "create_connection", black_hole)
    monkeypatch.setenv(variable, value)
    started = time.monotonic()
    with pytest.raises(DeviceNotFoundError, match=f"from {variable}.*within 0.5 s"):
        get_strategy("tpu", tpu_timeout=0.5)
    with pytest.warns(UserWarning, match=variable):
        get_strategy("auto", tpu_timeout=0.5)
    assert time.monotonic() - started < 5
    assert tpu_calls["initialize"] == 0


@tensorflow_only
def test_reachable_tpu_connects_and_explicit_tpu_is_never_a_fallback(tpu_calls):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"grpc://127.0.0.1:{server.getsockname()[1]}"
        assert get_strategy("auto", tpu=address).tpu_address == address
    assert tpu_calls["initialize"] == 1
    with pytest.raises(DeviceNotFoundError, match="from the `tpu` argument"):
        get_strategy("auto", tpu=f"grpc://127.0.0.1:{closed_port()}")


@tensorflow_only
@pytest.mark.parametrize("bad", [0, -1, "5", True])
def test_tpu_timeout_is_checked(bad):
    with pytest.raises(ValueError, match="tpu_timeout"):
        get_strategy("cpu", tpu_timeout=bad)


# === JAX multi-process variables ===

@pytest.mark.parametrize("environment, message", [
    ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "two"}, "KERAS_DISTRIBUTION_NUM_PROCESSES must be a "
                                                  "positive whole number.*'two'"),
    ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "0"}, "KERAS_DISTRIBUTION_NUM_PROCESSES"),
    ({"KERAS_DISTRIBUTION_NUM_PROCESSES": ""}, "KERAS_DISTRIBUTION_NUM_PROCESSES"),
    ({"KERAS_DISTRIBUTION_PROCESS_ID": "-1"}, "KERAS_DISTRIBUTION_PROCESS_ID must be a whole"),
    ({"KERAS_DISTRIBUTION_PROCESS_ID": "1.5"}, "KERAS_DISTRIBUTION_PROCESS_ID"),
    ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "2", "KERAS_DISTRIBUTION_PROCESS_ID": "2"},
     "KERAS_DISTRIBUTION_PROCESS_ID=2 must be below KERAS_DISTRIBUTION_NUM_PROCESSES=2"),
    ({"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1"},
     "KERAS_DISTRIBUTION_JOB_ADDRESSES must be 'HOST:PORT'"),
    ({"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234,10.0.0.2:http"},
     "KERAS_DISTRIBUTION_JOB_ADDRESSES"),
    ({"JAX_COORDINATOR_ADDRESS": "host:99999"}, "JAX_COORDINATOR_ADDRESS must be 'HOST:PORT'"),
    ({"JAX_COORDINATOR_ADDRESS": "a:1,b:2"}, "JAX_COORDINATOR_ADDRESS"),
    ({"JAX_NUM_PROCESSES": "x"}, "JAX_NUM_PROCESSES"),
    ({"JAX_PROCESS_ID": "x"}, "JAX_PROCESS_ID"),
])
def test_garbage_cluster_variables_name_the_variable(monkeypatch, environment, message):
    for name, _ in distribute._CLUSTER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        distribute._check_cluster(None, None, None)


def test_garbage_cluster_arguments_name_the_argument(monkeypatch):
    for name, _ in distribute._CLUSTER_ENV:
        monkeypatch.delenv(name, raising=False)
    for kwargs, message in (({"num_processes": "2"}, "`num_processes`"),
                            ({"num_processes": 2.0}, "`num_processes`"),
                            ({"process_id": True}, "`process_id`"),
                            ({"coordinator_address": "localhost"}, "`coordinator_address`"),
                            ({"num_processes": 2, "process_id": 3}, "process_id=3 must be below")):
        with pytest.raises(ValueError, match=message):
            distribute._check_cluster(kwargs.get("coordinator_address"),
                                      kwargs.get("num_processes"), kwargs.get("process_id"))
    distribute._check_cluster("10.0.0.1:1234", 2, 1)  # a valid cluster passes


@pytest.mark.jax
def test_jax_get_strategy_reports_the_variable_before_starting():
    script = textwrap.dedent("""
        from bertcls import get_strategy
        try:
            get_strategy()
        except ValueError as error:
            print("ERROR", error)
    """)
    env = {k: v for k, v in os.environ.items() if k not in distribute.MULTI_PROCESS_ENV}
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2",
               KERAS_DISTRIBUTION_JOB_ADDRESSES="127.0.0.1:1234",
               KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID="one")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert "ERROR KERAS_DISTRIBUTION_PROCESS_ID must be a whole number" in done.stdout, (
        done.stdout + done.stderr[-3000:])
