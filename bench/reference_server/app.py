"""The reference server for bench/run_server_bench.sh: pneumo's model served the way the original
system served its model, Flask under gunicorn sync workers, one model per worker.

    cd bench/reference_server && /usr/bin/python3 -m gunicorn -c gunicorn.conf.py app:app
    curl -F file=@x.jpeg http://127.0.0.1:8081/predict
    # {"confidence": 0.98, "prediction": "PNEUMONIA", "probability": 0.98}

Run it under Debian's /usr/bin/python3 (python3-flask, gunicorn, python3-pil, python3-numpy,
python3-torch 1.13): the forward pass then runs in the same libtorch_cpu.so as pneumo, so the
benchmark compares the serving stacks, not two builds of the kernels.

Same network (bench/python_reference.py mirrors src/model/networks.cc), same weights (the C++
archive models/default/weights.pt, read with torch.jit.load and copied by name), same
preprocessing as src/image/decode.cc + src/image/preprocess.cc (grayscale float in [0, 1], squash
to the card's input size with area averaging when shrinking, per-image standardisation), same
calibration and threshold from the card. PNEUMO_MODEL names another model directory.

Each gunicorn worker imports this module, and so loads its own copy of the model, with one torch
thread (the workers are the parallelism, as in the original deployment).
"""

import io
import json
import os
import sys

import numpy as np
import torch
from flask import Flask, jsonify, request
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from python_reference import make_network  # noqa: E402  (the architectures, layer for layer)

MODEL_DIR = os.environ.get(
    "PNEUMO_MODEL",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "default"))


def load_model(model_dir):
    """The card and the network with the C++ archive's parameters and buffers, in eval mode.

    torch::save of a C++ module writes a TorchScript archive whose state_dict keys are the C++
    register_module names, which the Python twin shares; load_state_dict(strict=True) fails
    loudly if a single name or shape differs.
    """
    with open(os.path.join(model_dir, "card.json")) as f:
        card = json.load(f)
    net = make_network(card["architecture"])
    if net is None:
        raise ValueError(f"unknown architecture {card['architecture']!r}")
    archive = torch.jit.load(os.path.join(model_dir, "weights.pt"), map_location="cpu")
    net.load_state_dict(archive.state_dict(), strict=True)
    net.eval()
    return card, net


def to_gray01(image):
    """A PIL image to a float32 grayscale array in [0, 1], as src/image/decode.cc's ToGray01:
    scale first, then the BGR2GRAY weights in float (no rounding to 8 bits in between)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(image, dtype=np.float32) / np.float32(65535.0)
    if image.mode == "L":
        return np.asarray(image, dtype=np.float32) / np.float32(255.0)
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255.0)
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def area_resize_axis(a, m, axis):
    """Area averaging of axis `axis` of `a` (n samples) down to m <= n samples: output k is the
    mean of the source over [k n/m, (k+1) n/m), partly covered pixels weighted by their overlap,
    which is what OpenCV's INTER_AREA computes. PIL's BOX filter gives those boundary pixels
    weight 0 or 1 instead, which at 2000 -> 192 px moved probabilities by 2e-3. np.add.reduceat
    sums the whole pixels of each interval in one C pass; the fractions are then corrected."""
    n = a.shape[axis]
    scale = n / m
    bounds = np.arange(m + 1) * scale
    whole = np.minimum(np.floor(bounds).astype(np.int64), n)
    frac = bounds - whole
    shape = [1] * a.ndim
    shape[axis] = m
    sums = np.add.reduceat(a, whole[:-1], axis=axis, dtype=np.float64)  # a[whole_k:whole_k+1]
    head = np.take(a, whole[:-1], axis=axis) * frac[:-1].reshape(shape)
    tail = np.take(a, np.minimum(whole[1:], n - 1), axis=axis) * frac[1:].reshape(shape)
    return (sums - head + tail) / scale


def prepare(gray01, card):
    """Squash to input_size square (area averaging when shrinking, bilinear when enlarging, as
    src/image/preprocess.cc), then normalise as the card says."""
    size = card["input"]["size"]
    h, w = gray01.shape
    if h >= size and w >= size:
        x = area_resize_axis(area_resize_axis(gray01, size, 0), size, 1)
    else:  # a side smaller than the input: rare for X-rays; OpenCV mixes methods there
        x = np.asarray(Image.fromarray(gray01, mode="F").resize(
            (size, size), Image.Resampling.BILINEAR), dtype=np.float64)
    norm = card["normalization"]
    card_std = norm["std"] if norm["std"] >= 1e-6 else 1.0
    if norm["mode"] == "per_image":
        own_std = x.std()
        own_std = own_std if own_std >= 1e-6 else 1.0
        x = ((x - x.mean()) / own_std - norm["mean"]) / card_std
    else:
        x = (x - norm["mean"]) / card_std
    return torch.from_numpy(x.astype(np.float32)).reshape(1, 1, size, size)


def calibrated_probability(logit, card):
    z = logit / card["temperature"] + card.get("bias", 0.0)
    return float(1.0 / (1.0 + np.exp(-z)) if z >= 0 else np.exp(z) / (1.0 + np.exp(z)))


torch.set_num_threads(1)
CARD, NET = load_model(MODEL_DIR)
app = Flask(__name__)


def predict_bytes(data):
    """Calibrated P(pneumonia) for one encoded image."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        gray = to_gray01(image)
    with torch.no_grad():
        logit = NET(prepare(gray, CARD)).item()
    return calibrated_probability(logit, CARD)


@app.post("/predict")
def predict():
    upload = request.files.get("file")
    if upload is None:
        return jsonify(error={"code": "missing_file", "message": "no file field"}), 400
    try:
        probability = predict_bytes(upload.read())
    except (OSError, ValueError) as e:  # PIL raises these for unknown or corrupt images
        return jsonify(error={"code": "invalid_image", "message": str(e)}), 422
    label = "PNEUMONIA" if probability >= CARD["threshold"] else "NORMAL"
    confidence = probability if label == "PNEUMONIA" else 1.0 - probability
    return jsonify(prediction=label, confidence=confidence, probability=probability)


@app.get("/health")
def health():
    return jsonify(status="healthy", model_loaded=True)


if __name__ == "__main__":
    # Checks the weights and preprocessing against pneumo: prints P(pneumonia) per file as JSON.
    print(json.dumps([{"file": p, "probability": predict_bytes(open(p, "rb").read())}
                      for p in sys.argv[1:]], indent=2))
