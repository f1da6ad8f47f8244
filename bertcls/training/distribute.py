"""Where training runs: `get_strategy` picks a TPU, GPUs or the CPU.

On TensorFlow it returns a `tf.distribute` strategy (TPUStrategy, MirroredStrategy or the
default one); on JAX it sets up `keras.distribution.DataParallel`, over several processes when
a JAX coordinator is configured. Both come wrapped in one small `Runtime` object, so training
code reads the same on either backend:

    runtime = get_strategy("auto")
    with runtime.scope():
        model = BertClassifier(backbone, num_classes=2)
        model.compile(steps_per_execution=runtime.steps_per_execution)
    model.fit(dataset_batched_at(runtime.global_batch_size(32)), ...)
"""

import contextlib
import glob
import os
import socket
import threading
import warnings

import keras

KINDS = ("auto", "tpu", "gpu", "mirrored", "cpu")
MIXED_PRECISION_POLICIES = ("auto", "bfloat16", "float16", "mixed_bfloat16", "mixed_float16",
                            "float32", None)
TPU_STEPS_PER_EXECUTION = 32  # a TPU idles between host round trips; run many steps per call
TPU_TIMEOUT = 5.0  # seconds a TPU worker (or its name lookup) gets to answer before connecting
# Environment variables that configure several JAX processes (Keras' own names, then JAX's).
MULTI_PROCESS_ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                     "KERAS_DISTRIBUTION_PROCESS_ID", "JAX_COORDINATOR_ADDRESS")
# Each checked before JAX starts: (name, kind) with kind "addresses", "address" or "count"/"id".
_CLUSTER_ENV = (("KERAS_DISTRIBUTION_JOB_ADDRESSES", "addresses"),
                ("KERAS_DISTRIBUTION_NUM_PROCESSES", "count"),
                ("KERAS_DISTRIBUTION_PROCESS_ID", "id"),
                ("JAX_COORDINATOR_ADDRESS", "address"),
                ("JAX_NUM_PROCESSES", "count"),
                ("JAX_PROCESS_ID", "id"))
_MULTI_WORKER = ("multi_worker_mirrored", "multiworkermirrored", "parameter_server")
_TPU_STRATEGIES = {}  # address -> TPUStrategy: a TPU system is initialised once per process


class DeviceNotFoundError(RuntimeError):
    """An explicitly requested device (a TPU, a GPU) is not there or cannot be reached."""


class Runtime:
    """Where training runs, the same way on TensorFlow and JAX. Made by `get_strategy`.

    Attributes:
        backend: `"tensorflow"` or `"jax"`.
        kind: the hardware the replicas run on: `"tpu"`, `"gpu"` or `"cpu"`.
        num_replicas: model replicas training in sync (all processes together); a global
            batch is split evenly among them.
        num_processes, process_index: this process's place among the processes that train
            together (always `1, 0` on TensorFlow).
        steps_per_execution: the value to pass to `model.compile`.
        strategy: the `tf.distribute.Strategy` (TensorFlow), else None.
        distribution: the `keras.distribution.DataParallel` (JAX), else None.
        tpu_address: the TPU connected to (TensorFlow), else None.

    Example:

    >>> runtime = get_strategy("cpu")
    >>> runtime.kind, runtime.num_replicas, runtime.global_batch_size(16)
    ('cpu', 1, 16)
    """

    def __init__(self, backend, kind, num_replicas, strategy=None, distribution=None,
                 num_processes=1, process_index=0, steps_per_execution=1, tpu_address=None):
        self.backend = backend
        self.kind = kind
        self.num_replicas = num_replicas
        self.strategy = strategy
        self.distribution = distribution
        self.num_processes = num_processes
        self.process_index = process_index
        self.steps_per_execution = steps_per_execution
        self.tpu_address = tpu_address

    def scope(self):
        """The context in which to build and compile models.

        The strategy's scope on TensorFlow (variables are created on every replica); on JAX
        the distribution's scope (it is also set globally, so models built outside work too).
        """
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        return contextlib.nullcontext()

    def global_batch_size(self, per_replica_batch_size):
        """The batch size to give `fit`: `per_replica_batch_size` times `num_replicas`.

        Example:

        >>> get_strategy("cpu").global_batch_size(32)
        32
        """
        if not isinstance(per_replica_batch_size, int) or per_replica_batch_size < 1:
            raise ValueError("`per_replica_batch_size` must be a positive integer, received "
                             f"{per_replica_batch_size!r}.")
        return per_replica_batch_size * self.num_replicas

    def __repr__(self):
        return (f"Runtime(backend={self.backend!r}, kind={self.kind!r}, "
                f"num_replicas={self.num_replicas}, num_processes={self.num_processes}, "
                f"process_index={self.process_index})")


def get_strategy(kind="auto", tpu=None, devices=None, steps_per_execution=None,
                 coordinator_address=None, num_processes=None, process_id=None,
                 multi_process=None, auto_shard_dataset=True, tpu_timeout=TPU_TIMEOUT):
    """Set up distributed training and return a `Runtime`.

    Kinds, on TensorFlow:

    - `"auto"`: a TPU if one is reachable (the `tpu` argument, Colab's `COLAB_TPU_ADDR`,
      `TPU_NAME`, or a TPU VM's own TPU), else `MirroredStrategy` over 2 or more GPUs, else
      the default strategy (one replica). A TPU named by `COLAB_TPU_ADDR` or `TPU_NAME`
      that does not answer within `tpu_timeout` (a variable left over from an earlier
      runtime) gives a warning naming the variable, and the GPUs or CPU are used.
    - `"tpu"`: `TPUStrategy`; `DeviceNotFoundError` if no TPU is found or reachable.
    - `"gpu"`: `MirroredStrategy` over all GPUs; `DeviceNotFoundError` without a GPU.
    - `"mirrored"`: `MirroredStrategy` over `devices`, by default all GPUs, or all CPU
      devices when there is no GPU.
    - `"cpu"`: one replica on the CPU: the default strategy (`OneDeviceStrategy("/cpu:0")`
      when a GPU is visible, to keep off it).

    On JAX every kind sets `keras.distribution.DataParallel` over that kind's devices of all
    processes (`"auto"` and `"mirrored"`: the accelerators, else the CPUs), after starting
    `jax.distributed` when several processes are configured (see `multi_process`).

    A TPU is connected and initialised once per address; later calls return the same
    strategy. Keras 3 cannot train under `MultiWorkerMirroredStrategy` (keras issue 20585):
    several hosts train with the JAX backend.

    Args:
        kind: one of `"auto"`, `"tpu"`, `"gpu"`, `"mirrored"`, `"cpu"`.
        tpu: TensorFlow only: a TPU name, `"grpc://host:port"` address or `"local"`;
            overrides the environment.
        devices: devices for `"mirrored"` (TensorFlow names such as `"/cpu:0"`, or Keras
            names such as `"gpu:0"` on JAX, checked here against JAX's devices).
        steps_per_execution: for `model.compile`; default 32 on a TPU, else 1.
        coordinator_address, num_processes, process_id: JAX only: the multi-process
            cluster, as in `keras.distribution.initialize` (`"host:port"` of process 0, the
            process count, this process's id). Unset values are read from
            `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `KERAS_DISTRIBUTION_NUM_PROCESSES`,
            `KERAS_DISTRIBUTION_PROCESS_ID`, then JAX's own detection
            (`JAX_COORDINATOR_ADDRESS`, Cloud TPU, Slurm, Open MPI).
        multi_process: JAX only: start `jax.distributed`? None (default): when one of the
            three arguments or of those variables is set; True: always (a TPU pod or a Slurm
            job, where JAX finds the cluster itself); False: never.
        tpu_timeout: TensorFlow only: seconds a remote TPU (a `grpc://` address, or a TPU
            name's lookup) gets to answer before `DeviceNotFoundError` (`"tpu"`, or an
            explicit `tpu`) or the fallback of `"auto"`; None waits as long as TensorFlow
            does. Initialising a TPU that answered is not timed (it can take a minute).
        auto_shard_dataset: JAX only, with several processes: True (default): give `fit`
            the same global `tf.data.Dataset` in every process and Keras hands each process
            its part; False: each process's dataset is already its own part (see
            `process_shard`), batched at the global batch size / `num_processes`.

    Returns:
        A `Runtime`.

    Raises:
        ValueError: unknown `kind`, an argument that does not apply to the backend, or a
            malformed multi-process setting (the message names the argument or the
            environment variable, e.g. `KERAS_DISTRIBUTION_NUM_PROCESSES`).
        DeviceNotFoundError: the requested TPU or GPU is not there (on JAX also a device
            in `devices`), or the TPU did not answer within `tpu_timeout`.

    Example:

    >>> runtime = get_strategy("cpu")
    >>> runtime.num_replicas, runtime.num_processes
    (1, 1)
    >>> with runtime.scope():
    ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    ...     model.compile(loss="mse", steps_per_execution=runtime.steps_per_execution)
    """
    if not isinstance(kind, str) or kind.lower() not in KINDS:
        hint = ""
        if isinstance(kind, str) and kind.lower() in _MULTI_WORKER:
            hint = (" Keras 3 cannot train under MultiWorkerMirroredStrategy or parameter "
                    "servers (keras issue 20585); train on several hosts with the JAX backend: "
                    "KERAS_BACKEND=jax and get_strategy(coordinator_address=..., "
                    "num_processes=..., process_id=...) (docs/distributed.md).")
        raise ValueError(f"`kind` must be one of {KINDS}, received {kind!r}.{hint}")
    kind = kind.lower()
    if tpu is not None and kind not in ("auto", "tpu"):
        raise ValueError(f"`tpu` applies to kind 'auto' or 'tpu', received kind={kind!r}.")
    if devices is not None and kind != "mirrored":
        raise ValueError(f"`devices` applies to kind 'mirrored', received kind={kind!r}.")
    if steps_per_execution is not None and (
            not isinstance(steps_per_execution, int) or steps_per_execution < 1):
        raise ValueError("`steps_per_execution` must be a positive integer or None, received "
                         f"{steps_per_execution!r}.")
    if tpu_timeout is not None and (isinstance(tpu_timeout, bool) or not isinstance(
            tpu_timeout, (int, float)) or not tpu_timeout > 0):
        raise ValueError(f"`tpu_timeout` must be a positive number of seconds or None, received "
                         f"{tpu_timeout!r}.")
    if keras.backend.backend() == "jax":
        if tpu not in (None, "local"):
            raise ValueError(
                f"`tpu` names a TensorFlow TPU to connect to, received {tpu!r}; under JAX a "
                "TPU is used where it is attached (a TPU VM): pass kind='tpu' instead.")
        runtime = _jax_runtime(kind, devices, coordinator_address, num_processes, process_id,
                               multi_process, auto_shard_dataset)
    elif keras.backend.backend() == "tensorflow":
        cluster = dict(coordinator_address=coordinator_address, num_processes=num_processes,
                       process_id=process_id, multi_process=multi_process)
        given = sorted(k for k, v in cluster.items() if v not in (None, False))
        if given:
            raise ValueError(
                f"{given} configure several JAX processes; Keras 3 on TensorFlow trains in one "
                "process (keras issue 20585). Set KERAS_BACKEND=jax for multi-host training.")
        runtime = _tensorflow_runtime(kind, tpu, devices, tpu_timeout)
    else:
        raise ValueError("get_strategy supports the 'tensorflow' and 'jax' Keras backends, "
                         f"the backend is {keras.backend.backend()!r}.")
    if steps_per_execution is None:
        steps_per_execution = TPU_STEPS_PER_EXECUTION if runtime.kind == "tpu" else 1
    runtime.steps_per_execution = steps_per_execution
    return runtime


# === TensorFlow ===

def _tensorflow_runtime(kind, tpu, devices, tpu_timeout):
    import tensorflow as tf

    if kind in ("auto", "tpu"):
        address, source = _find_tpu(tpu)
        strategy = None
        if address is not None:
            try:
                strategy = _connect_tpu(address, source, tpu_timeout)
            except DeviceNotFoundError as error:
                if kind == "tpu" or source not in ("COLAB_TPU_ADDR", "TPU_NAME"):
                    raise
                warnings.warn(f"{error} kind='auto' continues without a TPU.", stacklevel=3)
        if strategy is not None:
            return Runtime("tensorflow", "tpu", strategy.num_replicas_in_sync,
                           strategy=strategy, tpu_address=address)
        if kind == "tpu":
            raise DeviceNotFoundError(
                "kind='tpu' but no TPU was found: pass tpu='name', 'grpc://host:port' or "
                "'local', or run where COLAB_TPU_ADDR or TPU_NAME is set (a Colab TPU "
                "runtime) or on a TPU VM.")
    gpus = tf.config.list_physical_devices("GPU")
    if kind == "gpu" and not gpus:
        raise DeviceNotFoundError("kind='gpu' but TensorFlow sees no GPU "
                                  "(tf.config.list_physical_devices('GPU') is empty).")
    if kind == "gpu" or (kind == "auto" and len(gpus) >= 2):
        strategy = tf.distribute.MirroredStrategy()
        return Runtime("tensorflow", "gpu", strategy.num_replicas_in_sync, strategy=strategy)
    if kind == "mirrored":
        if devices is None:
            # Without GPUs, mirror over the CPU devices (several when configured as logical
            # devices: how the tests exercise MirroredStrategy without a GPU).
            devices = [d.name for d in tf.config.list_logical_devices("GPU" if gpus else "CPU")]
        strategy = tf.distribute.MirroredStrategy(devices=list(devices))
        on_gpu = all("GPU" in d.upper() for d in strategy.extended.worker_devices)
        return Runtime("tensorflow", "gpu" if on_gpu else "cpu",
                       strategy.num_replicas_in_sync, strategy=strategy)
    if kind == "cpu" and gpus:
        # The default strategy would place ops on the GPU; "cpu" asks to stay off it.
        return Runtime("tensorflow", "cpu", 1, strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    return Runtime("tensorflow", "gpu" if gpus else "cpu", 1, strategy=tf.distribute.get_strategy())


def _find_tpu(tpu=None):
    """`(address, where it came from)` of the TPU to connect to, or `(None, None)`: `tpu`,
    COLAB_TPU_ADDR, TPU_NAME, then a local TPU."""
    if tpu:
        return tpu, "the `tpu` argument"
    colab = os.environ.get("COLAB_TPU_ADDR")  # a Colab TPU runtime: "10.x.x.x:8470"
    if colab:
        return (colab if colab.startswith("grpc://") else "grpc://" + colab), "COLAB_TPU_ADDR"
    if os.environ.get("TPU_NAME"):  # Cloud TPU Nodes, Kaggle ("local" on its TPU VMs)
        return os.environ["TPU_NAME"], "TPU_NAME"
    return ("local", "a TPU attached to this machine") if _local_tpu_attached() else (None, None)


def _local_tpu_attached():
    # TPU VMs expose their chips as /dev/accel* (v2-v4) or VFIO groups (v5e, v6e).
    return bool(glob.glob("/dev/accel[0-9]*") or glob.glob("/dev/vfio/[0-9]*"))


def _connect_tpu(address, source="the `tpu` argument", timeout=None):
    if address in _TPU_STRATEGIES:
        return _TPU_STRATEGIES[address]
    import tensorflow as tf

    def unreachable(reason):
        hint = (f" If {source} is left over from an earlier runtime, unset it."
                if source in ("COLAB_TPU_ADDR", "TPU_NAME") else "")
        return DeviceNotFoundError(
            f"The TPU {address!r} (from {source}) did not answer within {timeout:g} s: "
            f"{reason}.{hint} Pass tpu_timeout= to wait longer.")

    try:
        if address == "local" or timeout is None:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        else:
            # A name is looked up over the network (Cloud TPU API): that may hang too.
            resolver = _within(timeout, tf.distribute.cluster_resolver.TPUClusterResolver,
                               tpu=address)
            if resolver is _TIMED_OUT:
                raise unreachable("looking up the name took too long")
            master = _master(resolver) or address
            if master.startswith("grpc://"):
                reason = _tcp_unreachable(master, timeout)
                if reason:
                    raise unreachable(reason)
        if address != "local":  # a remote TPU worker over gRPC; a TPU VM's own TPU is not
            tf.config.experimental_connect_to_cluster(resolver)
        # Initialising again would wipe the TPU's memory: done once per address (cached).
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except DeviceNotFoundError:
        raise
    except Exception as error:  # the resolver raises several types, all meaning "not here"
        hint = (" A TPU VM's own TPU needs TensorFlow's TPU build (tensorflow-tpu, with libtpu)."
                if address == "local" else "")
        raise DeviceNotFoundError(
            f"Could not connect to the TPU {address!r}: {type(error).__name__}: {error}.{hint}"
        ) from error
    strategy = tf.distribute.TPUStrategy(resolver)
    _TPU_STRATEGIES[address] = strategy
    return strategy


_TIMED_OUT = object()


def _within(timeout, function, *args, **kwargs):
    """`function(...)`, or `_TIMED_OUT` if it has not returned after `timeout` seconds (it
    keeps running in a daemon thread, which cannot be stopped, until it returns)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="bertcls-tpu-lookup", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return _TIMED_OUT
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _master(resolver):
    try:
        return resolver.master()
    except Exception:  # a resolver that cannot say: connect as before
        return None


def _tcp_unreachable(address, timeout):
    """None if `grpc://host:port` accepts a TCP connection within `timeout`, else why not."""
    host, _, port = address[len("grpc://"):].rpartition(":")
    if not host or not port.isdigit():
        return f"{address!r} is not grpc://HOST:PORT"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return None
    except OSError as error:
        return f"{type(error).__name__}: {error}"


# === JAX ===

def _jax_runtime(kind, devices, coordinator_address, num_processes, process_id, multi_process,
                 auto_shard_dataset):
    import jax

    configured = (any(v is not None for v in (coordinator_address, num_processes, process_id))
                  or any(os.environ.get(name) for name in MULTI_PROCESS_ENV))
    if multi_process is None:
        multi_process = configured
    if multi_process and not _jax_distributed_initialized():
        _check_cluster(coordinator_address, num_processes, process_id)
        # Before any other JAX call: the process count is fixed once JAX starts.
        keras.distribution.initialize(job_addresses=coordinator_address,
                                      num_processes=num_processes, process_id=process_id)
    platform = jax.default_backend()  # "tpu", "gpu" or "cpu"
    if kind in ("tpu", "gpu") and platform != kind:
        raise DeviceNotFoundError(
            f"kind={kind!r} but JAX's devices are {platform!r}; install JAX for that device "
            "(jax[tpu], or a CUDA build such as jax[cuda12]).")
    device_type = "cpu" if kind == "cpu" else platform
    if devices is None or kind != "mirrored":
        devices = keras.distribution.list_devices(device_type)
    else:
        devices = _jax_devices(devices)
    distribution = keras.distribution.DataParallel(devices=list(devices),
                                                   auto_shard_dataset=auto_shard_dataset)
    keras.distribution.set_distribution(distribution)
    return Runtime("jax", device_type, len(devices), distribution=distribution,
                   num_processes=jax.process_count(), process_index=jax.process_index())


def _jax_devices(devices):
    """Keras device names (`"cpu:0"`, `"gpu:1"`) for the `devices` of kind "mirrored" under JAX,
    each checked against the devices JAX has (TensorFlow spellings such as `"/GPU:0"` are
    accepted), so that a wrong name fails here rather than when a model is built."""
    if isinstance(devices, str) or not isinstance(devices, (list, tuple)) or not devices:
        raise ValueError(f"`devices` must be a non-empty list of device names such as "
                         f"['gpu:0', 'gpu:1'], received {devices!r}.")
    names = []
    for device in devices:
        text = device.strip().lstrip("/").lower() if isinstance(device, str) else ""
        if text.startswith("device:"):
            text = text[len("device:"):]
        kind, _, index = text.partition(":")
        if kind not in ("cpu", "gpu", "tpu") or not index.isdigit():
            raise ValueError(
                f"`devices` holds {device!r}, which is not a device name; use 'cpu:N', "
                f"'gpu:N' or 'tpu:N' (keras.distribution.list_devices() lists them).")
        names.append(f"{kind}:{int(index)}")
    if len(set(names)) != len(names):
        raise ValueError(f"`devices` names a device twice: {list(devices)!r}.")
    available = set()
    for kind in sorted({name.split(":")[0] for name in names}):
        try:
            available.update(keras.distribution.list_devices(kind))
        except RuntimeError:  # JAX has no backend of that kind
            pass
    missing = [device for device, name in zip(devices, names) if name not in available]
    if missing:
        raise DeviceNotFoundError(
            f"`devices` names {missing}, which JAX does not have; its devices are "
            f"{keras.distribution.list_devices()}.")
    return names


def _check_cluster(coordinator_address, num_processes, process_id):
    """Raise ValueError naming the argument or environment variable that cannot describe the
    JAX processes (Keras and JAX would fail later with a bare `int()` error, or hang)."""
    found = {}
    for name, kind in _CLUSTER_ENV:
        if name in os.environ:
            found[name] = _parse_cluster_value(os.environ[name], kind, name, text=True)
    arguments = (("coordinator_address", coordinator_address, "addresses"),
                 ("num_processes", num_processes, "count"), ("process_id", process_id, "id"))
    for name, value, kind in arguments:
        if value is not None:
            found[name] = _parse_cluster_value(value, kind, f"`{name}`", text=False)
    for count_name, id_name in (("num_processes", "process_id"),
                                ("KERAS_DISTRIBUTION_NUM_PROCESSES",
                                 "KERAS_DISTRIBUTION_PROCESS_ID"),
                                ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID")):
        if count_name in found and id_name in found and found[id_name] >= found[count_name]:
            raise ValueError(
                f"{id_name}={found[id_name]} must be below {count_name}={found[count_name]} "
                "(process ids count from 0).")


def _parse_cluster_value(value, kind, label, text):
    """The value (an int for counts and ids); `text`: it comes from the environment."""
    if kind in ("count", "id"):
        number = None
        if text:
            try:
                number = int(value.strip())
            except ValueError:
                pass
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        low = 1 if kind == "count" else 0
        if number is None or number < low:
            what = ("a positive whole number of processes" if kind == "count"
                    else "a whole number from 0 (this process's index)")
            raise ValueError(f"{label} must be {what}, received {value!r}.")
        return number
    addresses = value.split(",") if isinstance(value, str) else [value]
    if kind == "address" and len(addresses) > 1:
        addresses = [None]
    for address in addresses:
        host, _, port = address.strip().rpartition(":") if isinstance(address, str) else ("",) * 3
        if not host or any(c.isspace() for c in host) or not port.isdigit() or not (
                0 < int(port) < 65536):
            form = "'HOST:PORT'" + (" addresses, comma-separated" if kind == "addresses" else "")
            raise ValueError(f"{label} must be {form} (e.g. '10.0.0.1:1234'), received "
                             f"{value!r}.")
    return value


def _jax_distributed_initialized():
    import jax

    is_initialized = getattr(jax.distributed, "is_initialized", None)
    if is_initialized is not None:
        return is_initialized()
    from jax._src import distributed  # jax < 0.5 has no public check

    return distributed.global_state.client is not None


# === Input sharding and precision ===

def process_shard():
    """`(num_processes, process_index)` of this process, for a per-process input pipeline.

    `dataset.shard(*process_shard())` keeps this process's part. Needed only with
    `get_strategy(..., auto_shard_dataset=False)`; by default Keras shards the global
    dataset itself. On TensorFlow always `(1, 0)`. On JAX call it after `get_strategy`.

    Returns:
        A tuple of two ints.

    Example:

    >>> process_shard()
    (1, 0)
    """
    if keras.backend.backend() != "jax":
        return 1, 0
    import jax

    if not _jax_distributed_initialized() and any(os.environ.get(n) for n in MULTI_PROCESS_ENV):
        # Asking JAX now would start it single-process and break the later initialisation.
        raise RuntimeError("Several JAX processes are configured but not started yet: call "
                           "bertcls.get_strategy() before process_shard().")
    return jax.process_count(), jax.process_index()


def set_mixed_precision(policy="auto", runtime=None):
    """Set Keras' global dtype policy; call it before building the model.

    Args:
        policy: `"auto"`: `mixed_bfloat16` on a TPU, `mixed_float16` on a GPU, `float32` on
            CPU; `"bfloat16"` / `"mixed_bfloat16"`, `"float16"` / `"mixed_float16"`, or
            `"float32"` / None (full precision).
        runtime: the `Runtime` whose `kind` decides `"auto"`; by default the devices the
            backend sees.

    Returns:
        The policy name set. `compile` adds loss scaling for `mixed_float16` itself.

    Example:

    >>> set_mixed_precision("bfloat16")
    'mixed_bfloat16'
    >>> set_mixed_precision(None)
    'float32'
    """
    if policy not in MIXED_PRECISION_POLICIES:
        raise ValueError(
            f"`policy` must be one of {MIXED_PRECISION_POLICIES}, received {policy!r}.")
    if policy == "auto":
        kind = runtime.kind if runtime is not None else _default_kind()
        name = {"tpu": "mixed_bfloat16", "gpu": "mixed_float16"}.get(kind, "float32")
    else:
        name = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16",
                None: "float32"}.get(policy, policy)
    keras.mixed_precision.set_global_policy(name)
    return name


def _default_kind():
    if keras.backend.backend() == "jax":
        import jax

        return jax.default_backend()
    import tensorflow as tf

    for kind in ("tpu", "gpu"):
        if tf.config.list_logical_devices(kind.upper()):
            return kind
    return "cpu"
