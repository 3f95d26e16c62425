"""The detector core: image in, detections in original-image pixels out. No rclpy, no torch.

``Detector(DetectorConfig(model_path=...))`` loads any ultralytics-exported YOLO ONNX (COCO or
custom), checks it against its model card, and runs letterbox → backend → decode → NMS.
Per-frame problems raise :class:`FrameError` and are counted in ``error_counts``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_rover.perception.detection.backends import (
    BACKENDS,
    Backend,
    BackendChoice,
    make_backend,
    names_from_metadata,
    resolve_backend,
)
from edge_rover.perception.detection.class_profiles import map_model_classes
from edge_rover.perception.detection.model_card import (
    ModelCard,
    card_path_for,
    load_class_list,
    load_model_card,
    verify_sha256,
)
from edge_rover.perception.detection.model_layout import (
    OutputLayout,
    check_class_count,
    check_model_file,
    check_output_shape,
    check_output_values,
    check_task,
)
from edge_rover.perception.detection.postprocess import ClassMapping, as_channels_first, decode
from edge_rover.perception.detection.preprocess import Letterbox, as_bgr, letterbox, letterbox_bgr
from edge_rover.perception.detection.tensorrt_engine import PRECISIONS
from edge_rover.perception.detection.types import (
    DetectionResult,
    Detections,
    FrameError,
    ModelLoadError,
    Timings,
)


@dataclass(frozen=True)
class DetectorConfig:
    model_path: str
    backend: str = "auto"  # auto: TensorRT, CUDA, OpenVINO IR (x86), ORT CPU (backends.choose_backend)
    threads: int = 2
    conf_threshold: float = 0.25
    iou_threshold: float = 0.45
    input_hw: tuple[int, int] | None = None  # None: the model's own (static) input size
    model_classes: Sequence[str] | str | None = None  # list, or a file; None: card / metadata
    keep_classes: Sequence[str] = ()  # output classes to keep (after remap); empty = all
    class_remap: dict[str, str] = field(default_factory=dict)  # model name → output name
    # config/classes.yaml (or another class table): map the model's classes onto its profiles by
    # name and drop the rest (class_profiles.map_model_classes). None: the model's own classes.
    class_table: str | None = None
    model_card: str | None = None  # None: <model stem>.card.yaml beside the model, if any
    max_detections: int = 100
    engine_cache_dir: str | None = None  # TensorRT engines; None: $XDG_CACHE_HOME/edge_rover/engines
    trt_precision: str = "auto"  # TensorRT: auto (int8 for a QDQ model, else fp16), int8, fp16

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend {self.backend!r} is not one of {list(BACKENDS)}")
        if not 0.0 < self.conf_threshold < 1.0 or not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError("conf_threshold must be in (0, 1) and iou_threshold in (0, 1]")
        if self.trt_precision not in PRECISIONS:
            raise ValueError(f"trt_precision {self.trt_precision!r} is not one of {list(PRECISIONS)}")
        if self.threads < 1:
            raise ValueError("threads must be >= 1")
        if self.input_hw is not None and (min(self.input_hw) < 32 or any(v % 32 for v in self.input_hw)):
            raise ValueError(f"input size {self.input_hw} must be multiples of 32 (YOLO stride)")


def _resolve_model_classes(
    config: DetectorConfig, card: ModelCard | None, metadata: dict[str, str]
) -> list[str]:
    if isinstance(config.model_classes, str) and config.model_classes:
        return load_class_list(Path(config.model_classes))
    if config.model_classes:
        return [str(c) for c in config.model_classes]
    if card is not None and card.class_names:
        return list(card.class_names)
    names = names_from_metadata(metadata)
    if names:
        return names
    raise ModelLoadError(
        f"{config.model_path} carries no class names (no 'names' metadata, no model card): "
        "give the class list explicitly"
    )


class Detector:
    """Loads and checks the model once; ``detect(image)`` per frame."""

    def __init__(self, config: DetectorConfig, log: Callable[[str], None] = print) -> None:
        """``log`` gets the one-off progress lines (the TensorRT engine build)."""
        config.validate()
        self.config = config
        self.error_counts: Counter[str] = Counter()
        self.frames = 0
        path = Path(config.model_path)
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        check_model_file(path)  # a TFLite / TorchScript / weightless IR file is named, not parsed
        # auto may swap the ONNX for the OpenVINO IR beside it; that file is then checked against
        # its own card (an explicit model_card names the configured file's card only)
        self.backend_choice: BackendChoice = resolve_backend(config.backend, path)
        switched = self.backend_choice.model_path != path
        path = self.backend_choice.model_path
        card_path = Path(config.model_card) if config.model_card and not switched else card_path_for(path)
        if config.model_card and not switched and not card_path.is_file():
            raise ModelLoadError(f"model card not found: {card_path}")
        self.card = load_model_card(card_path) if card_path.is_file() else None
        if self.card is not None:
            verify_sha256(path, self.card)
        self._ultralytics = None
        self.model_path = path
        if self.backend_choice.backend == "ultralytics":
            self._load_ultralytics(path)
            return
        self.backend: Backend = make_backend(
            self.backend_choice.backend,
            path,
            config.threads,
            config.input_hw,
            Path(config.engine_cache_dir) if config.engine_cache_dir else None,
            config.trt_precision,
            log,
        )
        self.input_hw = self._check_input_size(self.backend.input_hw)
        metadata = getattr(self.backend, "metadata", {})
        # the layout first, whatever class list is given: a list can be made to "fit" any shape
        self.output_layout, output_shape = self._check_output_layout(metadata)
        self.model_classes = _resolve_model_classes(config, self.card, metadata)
        self._model_error(check_class_count, self.output_layout, output_shape, self.model_classes)
        self.mapping = self._class_mapping()

    def _class_mapping(self) -> ClassMapping:
        """The model's classes → output classes: through the class table when one is set (kept
        by name, the rest listed in ``dropped_classes``), then the explicit keep list."""
        config = self.config
        self.dropped_classes: tuple[str, ...] = ()
        remap, keep = dict(config.class_remap), tuple(config.keep_classes)
        if config.class_table:
            try:
                table = map_model_classes(self.model_classes, config.class_table, remap)
            except ValueError as err:
                raise ModelLoadError(f"class table {config.class_table}: {err}") from err
            if not table.keep:
                raise ModelLoadError(
                    f"{self.model_path}: none of its classes {self.model_classes[:8]}... is a profile or a "
                    f"model_names entry of the class table {config.class_table}: add them there, or set "
                    "class_table to '' to publish the model's own classes"
                )
            remap, keep = table.remap, keep or table.keep
            self.dropped_classes = table.dropped
        return ClassMapping.build(self.model_classes, keep, remap)

    # -- loading -------------------------------------------------------------------------------
    def _check_input_size(self, model_hw: tuple[int, int] | None) -> tuple[int, int]:
        wanted = self.config.input_hw
        if model_hw is not None and wanted is not None and tuple(wanted) != model_hw:
            raise ModelLoadError(
                f"{self.model_path} takes a fixed {model_hw[0]}x{model_hw[1]} (HxW) input, "
                f"but input size {wanted[0]}x{wanted[1]} was asked for: re-export or drop the setting"
            )
        card_hw = self.card.input_hw if self.card is not None else None
        if card_hw is not None and model_hw is not None and card_hw != model_hw:
            raise ModelLoadError(f"model input {model_hw} differs from its card {card_hw}")
        hw = model_hw or wanted or (self.card.input_hw if self.card else None)
        if hw is None:
            raise ModelLoadError(f"{self.model_path} has a dynamic input size: set input_hw")
        return (int(hw[0]), int(hw[1]))

    def _model_error(self, check, *args) -> object:
        """Run a model_layout check; its error names this model file."""
        try:
            return check(*args)
        except ModelLoadError as err:
            raise ModelLoadError(f"{self.model_path}: {err}") from err

    def _check_output_layout(self, metadata: dict[str, str]) -> tuple[OutputLayout, tuple[int, ...]]:
        """One warm-up run on grey: the output must be the ultralytics detect layout for this input
        size (model_layout.py), with its value ranges."""
        self._model_error(check_task, metadata)
        grey, _ = self.prepare(np.full((*self.input_hw, 3), 114, dtype=np.uint8))
        try:
            output = np.asarray(self.backend.run(grey))
        except Exception as err:
            raise ModelLoadError(f"{self.model_path} failed its first run: {err}") from err
        layout = self._model_error(check_output_shape, output.shape, self.input_hw)
        self._model_error(check_output_values, output[0], self.input_hw)
        return layout, tuple(output.shape)

    def _load_ultralytics(self, path: Path) -> None:
        try:
            from ultralytics import YOLO
        except ImportError as err:
            from edge_rover.perception.detection.types import BackendUnavailableError

            raise BackendUnavailableError(
                "backend 'ultralytics' (reference only) needs the train extra: requirements/train.txt"
            ) from err
        self._ultralytics = YOLO(str(path), task="detect")
        names = self._ultralytics.names
        self.model_classes = [names[i] for i in sorted(names)]
        self.mapping = self._class_mapping()
        self.input_hw = tuple(self.config.input_hw or (640, 640))

    # -- per frame -----------------------------------------------------------------------------
    @property
    def class_names(self) -> tuple[str, ...]:
        return self.mapping.output_names

    def detect(self, image: np.ndarray) -> DetectionResult:
        """Detect in one BGR (or grey / BGRA) uint8 image. Raises FrameError (counted) on bad input."""
        self.frames += 1
        try:
            if self._ultralytics is not None:
                return self._detect_ultralytics(image)
            return self._detect(image)
        except FrameError as err:
            self.error_counts[err.kind] += 1
            raise

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Image → what this backend's run() takes (see Backend.takes_bgr_uint8) and the placement."""
        if self.backend.takes_bgr_uint8:
            padded, placement = letterbox_bgr(image, self.input_hw)
            return padded[np.newaxis], placement
        return letterbox(image, self.input_hw)

    def _detect(self, image: np.ndarray) -> DetectionResult:
        t0 = time.perf_counter()
        model_input, placement = self.prepare(image)
        t1 = time.perf_counter()
        try:
            output = self.backend.run(model_input)
        except Exception as err:  # a runtime failure on one frame must not kill the node
            raise FrameError("inference_failed", f"inference failed: {err}") from err
        t2 = time.perf_counter()
        detections = self.postprocess(output, placement)
        t3 = time.perf_counter()
        timings = Timings((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
        return DetectionResult(detections, timings, placement.original_hw)

    def postprocess(self, output: np.ndarray, placement: Letterbox) -> Detections:
        channels = as_channels_first(np.asarray(output), len(self.model_classes))
        boxes, scores, class_ids = decode(
            channels,
            self.mapping,
            self.config.conf_threshold,
            self.config.iou_threshold,
            self.config.max_detections,
        )
        return Detections(placement.to_original(boxes), scores, class_ids, self.class_names)

    def _detect_ultralytics(self, image: np.ndarray) -> DetectionResult:
        image = as_bgr(image)
        t0 = time.perf_counter()
        result = self._ultralytics.predict(
            image,
            imgsz=list(self.input_hw),
            conf=self.config.conf_threshold,
            iou=self.config.iou_threshold,
            max_det=self.config.max_detections,
            verbose=False,
        )[0]
        elapsed = (time.perf_counter() - t0) * 1e3
        boxes = result.boxes.xyxy.cpu().numpy().astype(np.float32)
        scores = result.boxes.conf.cpu().numpy().astype(np.float32)
        model_ids = result.boxes.cls.cpu().numpy().astype(np.intp)
        lookup = dict(zip(self.mapping.model_ids.tolist(), self.mapping.output_ids.tolist(), strict=True))
        keep = np.array([m in lookup for m in model_ids], dtype=bool)
        class_ids = np.array([lookup[m] for m in model_ids[keep]], dtype=np.int32)
        detections = Detections(boxes[keep], scores[keep], class_ids, self.class_names)
        speed = result.speed
        timings = Timings(
            speed.get("preprocess", 0.0), speed.get("inference", elapsed), speed.get("postprocess", 0.0)
        )
        return DetectionResult(detections, timings, image.shape[:2])
