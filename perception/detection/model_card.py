"""Model card (``<model stem>.card.yaml`` beside the model) and class-list files.

The card is what makes a shipped model trustworthy: its sha256 is checked before the model is
used, its class list and input size override nothing silently (a conflict is an error).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from edge_rover.perception.detection.types import ModelLoadError


@dataclass(frozen=True)
class ModelCard:
    path: Path
    sha256: str | None
    class_names: tuple[str, ...] | None
    input_hw: tuple[int, int] | None
    raw: dict = field(default_factory=dict)
    # The world the model was trained for: "sim" (simulator renders) or "real" (camera footage);
    # None when the card does not say (a user's own model). The domain guard compares it with the
    # source the detector is fed (detector node ``source_domain``, doctor).
    domain: str | None = None


DOMAINS = ("sim", "real")


def card_path_for(model_path: Path) -> Path:
    return model_path.with_name(model_path.stem + ".card.yaml")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model_card(path: Path) -> ModelCard:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ModelLoadError(f"cannot read model card {path}: {err}") from err
    if not isinstance(data, dict):
        raise ModelLoadError(f"model card {path} is not a YAML mapping")
    sha = data.get("sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha)):
        raise ModelLoadError(f"model card {path}: sha256 must be a quoted 64-hex-digit string, got {sha!r}")
    domain = data.get("domain")
    if domain is not None and domain not in DOMAINS:
        raise ModelLoadError(f"model card {path}: domain must be one of {list(DOMAINS)}, got {domain!r}")
    classes = data.get("classes")
    input_hw = data.get("input_hw")
    return ModelCard(
        path=path,
        sha256=sha.lower() if sha else None,
        class_names=tuple(str(c) for c in classes) if classes else None,
        input_hw=(int(input_hw[0]), int(input_hw[1])) if input_hw else None,
        raw=data,
        domain=domain,
    )


def verify_sha256(model_path: Path, card: ModelCard) -> None:
    """The model file against the card's ``sha256``; an OpenVINO IR's weights (``.bin``) against
    ``bin_sha256`` too (the .xml alone says nothing about the weights)."""
    checks = [(model_path, card.sha256)]
    bin_sha = card.raw.get("bin_sha256")
    if model_path.suffix == ".xml" and bin_sha is not None:
        if not (isinstance(bin_sha, str) and re.fullmatch(r"[0-9a-fA-F]{64}", bin_sha)):
            raise ModelLoadError(f"model card {card.path}: bin_sha256 must be a quoted 64-hex-digit string")
        checks.append((model_path.with_suffix(".bin"), bin_sha.lower()))
    for path, expected in checks:
        if expected is None:
            continue
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path} (named by its card {card.path})")
        actual = file_sha256(path)
        if actual != expected:
            raise ModelLoadError(
                f"model {path} does not match its card {card.path}: sha256 {actual[:16]}… "
                f"but the card says {expected[:16]}… (damaged or replaced file)"
            )


def load_class_list(path: Path) -> list[str]:
    """Class names from a file: one per line (.txt/.names), or YAML — a list, ultralytics
    ``names:`` (list or {id: name}), or our ``config/classes.yaml`` (``classes:`` with ids)."""
    try:
        text = path.read_text()
    except OSError as err:
        raise ModelLoadError(f"cannot read class list {path}: {err}") from err
    if path.suffix in (".txt", ".names"):
        names = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        data = yaml.safe_load(text)
        if isinstance(data, dict):
            data = data.get("names", data.get("classes"))
        if isinstance(data, dict):
            first = next(iter(data.values()), None)
            if isinstance(first, dict) and "id" in first:  # config/classes.yaml
                data = sorted(data, key=lambda name: data[name]["id"])
            else:
                data = [data[k] for k in sorted(data)]
        names = [str(n) for n in data] if isinstance(data, list) else []
    if not names:
        raise ModelLoadError(f"no class names found in {path}")
    return names


# The shipped model for each world (models/README.md, docs/models.md): what a mismatch warning offers.
DOMAIN_MODELS = {
    "sim": "package://edge_rover/models/edge_rover_yolov8n_int8.onnx",
    "real": "package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx",
}
_DOMAIN_WORDS = {"sim": "simulator", "real": "real camera"}


def domain_mismatch(
    model_domain: str | None, source_domain: str | None, model_name: str = "the model"
) -> str | None:
    """One line with the fix when a model trained for one world is fed frames of the other;
    None when they agree or either is unknown (a user's own model, a source nobody declared)."""
    if not model_domain or not source_domain or model_domain == source_domain:
        return None
    if source_domain not in DOMAINS:
        raise ValueError(f"source domain must be one of {list(DOMAINS)} or empty, got {source_domain!r}")
    why = (
        "it was trained on simulator renders only and misses about half of the real people"
        if model_domain == "sim"
        else "it was never trained on renders (no traffic_cone, no box) and sees them poorly"
    )
    return (
        f"{model_name} is a {_DOMAIN_WORDS[model_domain]} model (card domain: {model_domain}) but the "
        f"images come from a {_DOMAIN_WORDS[source_domain]} (source_domain: {source_domain}): {why}; "
        f"fix: launch with model:={DOMAIN_MODELS[source_domain]}"
    )
