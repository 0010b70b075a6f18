"""The ONNX Runtime CPU path against eager PyTorch with the same real model: same logits, same
embeddings, for any batch shape, and served the same way by the predictor; its graph exported in a child
process, cached by what it is made from, and served by a process that never imports PyTorch."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
import torch
from kserve.protocol.infer_type import InferInput, InferRequest

from ml_common import runtime
from ml_common.classifier import SequenceClassifier
from ml_common.onnx_export import export_graphs
from ml_common.onnx_runtime import OnnxClassifier, graph_paths
from model_server.predictor import ClassifierPredictor
from model_server.settings import ModelServerSettings
from serving_common.errors import ModelDirectoryError
from serving_common.model_dir import read_metadata


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def pair(model_dirs, onnx_dir):
    torch_model = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.float32)
    onnx_model = OnnxClassifier.open(model_dirs["staging"], onnx_dir)
    return torch_model, onnx_model


@pytest.mark.parametrize("shape", [(1, 5), (3, 17), (8, 64), (2, 300)])
def test_onnx_gives_the_same_logits_and_embeddings(pair, shape):
    torch_model, onnx_model = pair
    rng = np.random.default_rng(shape[1])
    ids = rng.integers(5, torch_model.vocab_size, size=shape)
    mask = np.ones_like(ids)
    mask[0, shape[1] // 2 :] = 0  # a padded row too
    expected_logits, expected_embedding = torch_model.infer(ids, mask)
    logits, embedding = onnx_model.infer(ids, mask)
    np.testing.assert_allclose(logits, expected_logits, atol=1e-4)
    np.testing.assert_allclose(embedding, expected_embedding, atol=1e-4)
    assert onnx_model.projection.id == torch_model.projection.id


async def test_the_predictor_serves_the_onnx_path(pair):
    torch_model, onnx_model = pair
    predictor = ClassifierPredictor("spam-detector", lambda: onnx_model, ModelServerSettings(runtime="onnx"))
    predictor.load()
    ids = np.array([[1, 40, 50, 60, 2]], dtype=np.int64)
    inputs = []
    for name, data in (("input_ids", ids), ("attention_mask", np.ones_like(ids))):
        tensor = InferInput(name=name, shape=list(data.shape), datatype="INT64")
        tensor.set_data_from_numpy(data, binary_data=False)
        inputs.append(tensor)
    response = await predictor.predict(InferRequest(model_name="spam-detector", infer_inputs=inputs))
    logits = next(o for o in response.outputs if o.name == "logits").as_numpy()
    np.testing.assert_allclose(logits, torch_model.forward(ids, np.ones_like(ids)), atol=1e-4)
    await predictor.batcher.close()


def test_int8_stays_close_to_float32_and_keeps_the_verdicts(pair, model_dirs, onnx_dir):
    """The int8 twin (dynamic quantization of the MatMul weights): close logits, the same argmax on
    texts the model is sure of, the same embedding projection."""
    torch_model, _ = pair
    int8 = OnnxClassifier.open(model_dirs["staging"], onnx_dir, int8=True)
    _, quantized = graph_paths(model_dirs["staging"], torch_model.metadata, onnx_dir)
    assert quantized.is_file() and quantized.name.endswith(".int8-per-channel.onnx")
    # Per output channel: every quantized weight has a vector of scales, one per column.
    scales = [t for t in onnx.load(str(quantized)).graph.initializer if t.name.endswith("_scale") and t.dims]
    assert scales and all(len(t.dims) == 1 and t.dims[0] > 1 for t in scales)
    ids = np.random.default_rng(11).integers(5, torch_model.vocab_size, size=(16, 48))
    mask = np.ones_like(ids)
    expected, _ = torch_model.infer(ids, mask)
    logits, embedding = int8.infer(ids, mask)
    assert np.abs(logits - expected).max() < 0.25
    sure = np.abs(expected[:, 1] - expected[:, 0]) > 0.5
    assert (logits.argmax(1)[sure] == expected.argmax(1)[sure]).all()
    assert embedding.shape == torch_model.infer(ids, mask)[1].shape and int8.projection.id == torch_model.projection.id
    # Row by row: a text's numbers do not depend on what it is batched with, padding included.
    mask[3, 20:] = 0
    batched, batched_embedding = int8.infer(ids, mask)
    alone, alone_embedding = int8.infer(ids[3:4, :20], mask[3:4, :20])
    np.testing.assert_array_equal(batched[3:4], alone)
    np.testing.assert_allclose(batched_embedding[3:4], alone_embedding, atol=1e-6)  # the projection: one matmul
    # Several rows at once, each on its own thread: the same numbers, in the callers' order.
    three = OnnxClassifier.open(model_dirs["staging"], onnx_dir, threads=3, int8=True)
    assert three.row_workers == 3
    spread, spread_embedding = three.infer(ids, mask)
    np.testing.assert_array_equal(spread, batched)
    np.testing.assert_array_equal(spread_embedding, batched_embedding)


@pytest.mark.parametrize("runtime", ["onnx", "onnx-int8"])
def test_onnx_is_refused_on_a_gpu(runtime):
    with pytest.raises(ValueError, match="CPU path"):
        ModelServerSettings(runtime=runtime, device="cuda")


@pytest.mark.parametrize("amx", [False, True])
def test_auto_is_int8_onnx_on_any_cpu_and_torch_when_compiling_torch_in_bf16_where_amx_is(monkeypatch, amx):
    from ml_common import device

    monkeypatch.setattr(device, "cpu_has_amx_bf16", lambda: amx)
    assert ModelServerSettings().runtime == "auto"
    assert runtime.resolve_runtime("auto", "cpu") == "onnx-int8"
    assert device.resolve_dtype("auto", torch.device("cpu")) is (torch.bfloat16 if amx else torch.float32)
    assert runtime.resolve_runtime("auto", "cpu", compile_model=True) == "torch"
    assert runtime.resolve_runtime("onnx", "cpu") == "onnx"
    assert runtime.resolve_runtime("auto", "cuda") == "torch"


def test_a_gpu_is_looked_for_without_pytorch_where_the_driver_shows_none(tmp_path, monkeypatch):
    """No NVIDIA device node: no GPU, and PyTorch is not asked. With one, PyTorch decides (its CPU build sees
    none)."""
    asked = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: asked.append(True) or False)
    assert runtime.gpu_visible(tmp_path) is False and not asked
    (tmp_path / "nvidiactl").touch()  # the control node alone is no device
    assert runtime.gpu_visible(tmp_path) is False and not asked
    (tmp_path / "nvidia0").touch()
    assert runtime.gpu_visible(tmp_path) is False and asked == [True]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.gpu_visible(tmp_path) is True


def test_amx_is_read_from_the_kernels_cpu_flags(tmp_path):
    from ml_common.device import cpu_has_amx_bf16

    sapphire_rapids, epyc = tmp_path / "spr", tmp_path / "epyc"
    sapphire_rapids.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n\n")
    epyc.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 avx512_vnni\n\n")
    assert cpu_has_amx_bf16(sapphire_rapids) is True
    assert cpu_has_amx_bf16(epyc) is False  # AVX-512 BF16 alone: int8 ONNX Runtime is faster there
    assert cpu_has_amx_bf16(tmp_path / "no-such-file") is False


def test_native_bf16_is_avx512_bf16_or_amx_and_not_an_avx2_cpu(tmp_path):
    """Training's bfloat16 steps and the bench's bfloat16 row: where the CPU does bf16 in hardware, not where
    PyTorch would emulate it (an AVX2-only EPYC ran the spam default in bfloat16 at 0.1x float32's speed)."""
    from ml_common.device import has_native_bf16

    cpu = torch.device("cpu")
    spr, genoa, milan = tmp_path / "spr", tmp_path / "genoa", tmp_path / "milan"
    spr.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n\n")
    genoa.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n\n")
    milan.write_text("processor\t: 0\nflags\t\t: fpu fma avx avx2 sha_ni\n\n")
    assert has_native_bf16(cpu, spr) is True
    assert has_native_bf16(cpu, genoa) is True
    assert has_native_bf16(cpu, milan) is False
    assert has_native_bf16(cpu, tmp_path / "no-such-file") is False


@pytest.mark.slow
def test_the_compiled_model_matches_eager(model_dirs):
    """torch.compile (the GPU option) here on CPU: the compiled graph gives the eager outputs.

    One dynamic-shape compilation only (about 20 s on 2 cores); the server's warm-up runs more shapes.
    """
    eager = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.float32)
    compiled = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.float32)
    compiled.compile()
    assert compiled.compiled
    ids = np.random.default_rng(3).integers(5, eager.vocab_size, size=(3, 40))
    mask = np.ones_like(ids)
    for got, expected in zip(compiled.infer(ids, mask), eager.infer(ids, mask), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4)
    with pytest.raises(ValueError, match="compile applies"):
        ModelServerSettings(runtime="onnx", compile=True)


def test_a_compiled_model_is_warmed_up_at_every_serving_shape(model_dirs):
    """The shapes compiled before ready (checked on the eager model: compiling them all here takes minutes)."""
    classifier = SequenceClassifier.load(model_dirs["staging"], torch.device("cpu"), torch.float32)
    classifier.compiled = True
    seen, run = [], classifier._run
    classifier._run = lambda ids, mask: (seen.append(tuple(ids.shape)), run(ids, mask))[1]
    classifier.warm_up(8)
    assert sorted(seen) == [(1, 16), (1, 128), (2, 16), (2, 128), (8, 16), (8, 128)]


def test_quantizing_leaves_the_quantizers_info_lines_out_of_the_log(model_dirs, tmp_path, caplog):
    """ONNX Runtime's quantizer logs each tensor it leaves alone at INFO on the root logger, and advises
    pre-processing at WARNING: a server's log at start-up keeps its own line about quantizing and none of
    those, and the root logger is as it was after."""
    filters = list(logging.getLogger().filters)
    with caplog.at_level(logging.INFO):
        export_graphs(model_dirs["staging"], tmp_path, int8=True)
    assert not [r for r in caplog.records if f"onnxruntime{os.sep}quantization" in r.pathname]
    assert any(r.name == "ml_common.onnx_export" and "to int8" in r.getMessage() for r in caplog.records)
    assert logging.getLogger().filters == filters


def test_the_graph_is_named_by_what_it_is_made_from(model_dirs, tmp_path):
    """Changed weights, config or metadata under the same name and version make a new graph: a cache never
    serves a stale one. The same files in another directory share it."""
    source = model_dirs["staging"]
    metadata = read_metadata(source)
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    assert graph_paths(copy, metadata, tmp_path) == graph_paths(source, metadata, tmp_path)
    assert graph_paths(source, metadata, tmp_path)[0].name.startswith(f"{metadata.name}-{metadata.version}-")
    for name in ("model.safetensors", "config.json", "metadata.json"):
        changed = tmp_path / name
        shutil.copytree(source, changed)
        with (changed / name).open("ab") as handle:
            handle.write(b" ")
        assert graph_paths(changed, metadata, tmp_path)[0] != graph_paths(source, metadata, tmp_path)[0], name


def test_a_broken_model_directory_is_refused_naming_the_file(model_dirs, tmp_path):
    """Found by the export's child process (corrupt weights) or before it (a missing tokenizer): the same
    error naming the file, as the PyTorch path gives."""
    broken = tmp_path / "weights"
    shutil.copytree(model_dirs["staging"], broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelDirectoryError, match=r"model\.safetensors: not a readable safetensors file") as err:
        OnnxClassifier.open(broken, tmp_path / "onnx")
    assert err.value.path == str(broken / "model.safetensors")
    assert not list((tmp_path / "onnx").glob("*.onnx"))
    missing = tmp_path / "tokenizer"
    shutil.copytree(model_dirs["staging"], missing)
    (missing / "tokenizer.json").unlink()
    with pytest.raises(ModelDirectoryError, match=r"tokenizer\.json: file is missing"):
        OnnxClassifier.open(missing, tmp_path / "onnx")


def test_the_onnx_runtime_serves_without_importing_pytorch(model_dirs, tmp_path):
    """A fresh process loads the model for int8 ONNX Runtime, exporting its graph (in a child) and then from the
    cache, and answers, and PyTorch is in neither of its lives; the answer is the in-process one's."""
    script = (
        "import json, sys\n"
        "import numpy as np\n"
        "from ml_common.runtime import load_classifier\n"
        "model = load_classifier(sys.argv[1], 'onnx-int8', sys.argv[2])\n"
        "ids = np.array([[1, 40, 50, 60, 2]])\n"
        "logits, _ = model.infer(ids, np.ones_like(ids))\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'logits': logits.tolist()}))\n"
    )
    cache = tmp_path / "onnx"
    runs = []
    for _ in range(2):  # the first exports the graph, the second reads it from the cache
        done = subprocess.run(
            [sys.executable, "-c", script, str(model_dirs["staging"]), str(cache)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append((json.loads(done.stdout.strip().splitlines()[-1]), done.stderr))
    (first, first_log), (second, second_log) = runs
    assert "exported spam-detector to ONNX" in first_log and "exported" not in second_log
    assert first["torch"] is False and second["torch"] is False
    in_process = OnnxClassifier.open(model_dirs["staging"], cache, int8=True)
    ids = np.array([[1, 40, 50, 60, 2]])
    np.testing.assert_array_equal(
        np.array(second["logits"], dtype=np.float32), in_process.infer(ids, np.ones_like(ids))[0]
    )


def test_a_server_of_several_models_exports_their_graphs_in_one_child(model_dirs, tmp_path, monkeypatch):
    """PyTorch starts once for all the models not cached; with every graph cached, no child runs at all."""
    children = []
    run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: children.append(command) or run(command, **kw))
    dirs = [model_dirs["staging"], model_dirs["production"]]
    runtime.prepare_runtime(dirs, "onnx-int8", tmp_path)
    assert len(children) == 1 and all(str(d) in children[0] for d in dirs)
    for model_dir in dirs:
        assert graph_paths(model_dir, read_metadata(model_dir), tmp_path)[1].is_file()
    runtime.prepare_runtime(dirs, "onnx-int8", tmp_path)
    runtime.prepare_runtime(dirs, "torch", tmp_path)
    assert [type(runtime.load_classifier(d, "onnx-int8", tmp_path)) for d in dirs] == [OnnxClassifier] * 2
    assert len(children) == 1


def test_an_export_that_fails_otherwise_is_an_error_naming_the_model(model_dirs, tmp_path):
    """The child fails for a reason of its own (here the float32 graph's place holds a directory, which it cannot
    quantize): the server's start fails with an error naming the model, and no int8 graph is left in the cache. A
    cache that cannot be written is refused the same way before any child runs."""
    source = model_dirs["staging"]
    cache = tmp_path / "onnx"
    fp32, quantized = graph_paths(source, read_metadata(source), cache)
    fp32.mkdir(parents=True)
    with pytest.raises(RuntimeError, match=r"exporting .*spam-detector to ONNX failed \(exit status 1"):
        OnnxClassifier.open(source, cache, int8=True)
    assert not quantized.exists() and sorted(p.name for p in cache.iterdir()) == [".export.lock", fp32.name]
    unwritable = tmp_path / "not-a-directory"
    unwritable.write_text("")
    with pytest.raises(RuntimeError, match=r"exporting .*spam-detector to ONNX failed: the cache .* is not writable"):
        OnnxClassifier.open(source, unwritable, int8=True)
    assert unwritable.is_file() and unwritable.read_text() == ""


def test_processes_sharing_a_cache_export_a_graph_once(model_dirs, tmp_path):
    """Two processes (``make run``'s two predictors) start on an empty cache while a third holds the turn to export:
    both wait; then one exports the graph and the other finds it cached and loads it."""
    script = (
        "import logging, sys\n"
        "from ml_common.runtime import load_classifier\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s')\n"
        "load_classifier(sys.argv[1], 'onnx-int8', sys.argv[2])\n"
    )
    cache = tmp_path / "onnx"
    cache.mkdir()
    logs = [tmp_path / f"process-{k}.log" for k in range(2)]
    with (cache / ".export.lock").open("a") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        processes = []
        for log_path in logs:
            with log_path.open("w") as log_file:
                command = [sys.executable, "-c", script, str(model_dirs["staging"]), str(cache)]
                processes.append(subprocess.Popen(command, stderr=log_file))
        deadline = time.monotonic() + 60
        while not all("waiting for another process exporting" in p.read_text() for p in logs):
            assert time.monotonic() < deadline and all(p.poll() is None for p in processes), [
                p.read_text() for p in logs
            ]
            time.sleep(0.1)
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    exports = [p.read_text().count("exported spam-detector to ONNX") for p in logs]
    assert sorted(exports) == [0, 1], exports
    assert graph_paths(model_dirs["staging"], read_metadata(model_dirs["staging"]), cache)[1].is_file()
