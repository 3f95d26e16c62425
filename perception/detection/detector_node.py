"""Detector node: camera image → /detections (vision_msgs/Detection2DArray) [+ /detections/image].

Thin adapter around :class:`edge_rover.perception.detection.detector.Detector`. The subscription callback
only drops the newest frame into a one-slot mailbox (an unprocessed frame that gets replaced is
counted as dropped); a worker thread runs the detector on whatever is newest, so the node never
works through a backlog. Every output carries the stamp and frame_id of the image it came from.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray

from edge_rover.calibration.calibration_io import resolve_url
from edge_rover.common.graph import CAMERA_IMAGE, DETECTIONS, DETECTIONS_IMAGE, DIAGNOSTICS
from edge_rover.common.msgs.detections import detections_to_msg
from edge_rover.common.msgs.diagnostics import Status, diagnostics_to_msg
from edge_rover.common.msgs.image import ImageConversionError, bgr_to_image, compressed_to_bgr, image_to_bgr
from edge_rover.common.msgs.stamps import stamp_to_sec
from edge_rover.common.node_runner import run_node
from edge_rover.common.params import ParamSpec, declare_validated, read_at_start
from edge_rover.common.qos import RELIABLE_QOS, SENSOR_QOS
from edge_rover.perception.detection.backends import BACKENDS, resolve_backend
from edge_rover.perception.detection.detector import Detector, DetectorConfig
from edge_rover.perception.detection.drawing import draw_detections
from edge_rover.perception.detection.model_card import DOMAINS, domain_mismatch
from edge_rover.perception.detection.monitoring import WARN, DetectorStats, not_ready_status
from edge_rover.perception.detection.tensorrt_engine import PRECISIONS
from edge_rover.perception.detection.types import BackendUnavailableError, FrameError, ModelLoadError

DEFAULT_MODEL = "package://edge_rover/models/edge_rover_yolov8n_int8.onnx"

# Read once at start (the model is loaded and the subscription made with them):
# read-only, so a live change is refused, not ignored.
PARAM_SPECS: tuple[ParamSpec, ...] = read_at_start(
    [
        ParamSpec(
            "image_topic",
            CAMERA_IMAGE,
            "raw image topic, relative to the node's namespace (the compressed one is <topic>/compressed)",
        ),
        ParamSpec(
            "transport",
            "raw",
            "subscribe to raw sensor_msgs/Image or its /compressed",
            choices=("raw", "compressed"),
        ),
        ParamSpec(
            "model_path", DEFAULT_MODEL, "ONNX model: path, file:// or package://edge_rover/models/..."
        ),
        ParamSpec(
            "model_card", "", "model card YAML (sha256, classes); empty: <model stem>.card.yaml if present"
        ),
        ParamSpec(
            "model_classes",
            "",
            "class list of the model: file (.txt/.yaml) or comma list; empty: card/metadata",
        ),
        ParamSpec(
            "backend",
            "auto",
            "inference backend; auto = TensorRT when usable (NVIDIA), else CUDA on a GPU, else OpenVINO on "
            "the INT8 IR beside the model on x86 (measured fastest there), else onnxruntime (CPU)",
            choices=BACKENDS,
        ),
        ParamSpec(
            "engine_cache_dir",
            "",
            "writable folder for TensorRT engines; empty: $XDG_CACHE_HOME/edge_rover/engines (~/.cache/...)",
        ),
        ParamSpec(
            "trt_precision",
            "auto",
            "TensorRT engine precision; auto = int8 from the QDQ model's own scales, fp16 for a float model",
            choices=PRECISIONS,
        ),
        ParamSpec("threads", 2, "intra-op threads of the backend", min=1, max=64),
        ParamSpec("conf_threshold", 0.25, "minimum class score", min=0.01, max=0.99),
        ParamSpec("iou_threshold", 0.45, "class-aware NMS IoU", min=0.05, max=0.95),
        ParamSpec(
            "input_height", 0, "model input height, a multiple of 32 (0: the model's own)", min=0, max=2048
        ),
        ParamSpec(
            "input_width", 0, "model input width, a multiple of 32 (0: the model's own)", min=0, max=2048
        ),
        ParamSpec("classes", "", "comma list of output classes to keep (after remap); empty: all"),
        ParamSpec("class_remap", "", "comma list model:output renames, e.g. 'truck:car,bus:car'"),
        ParamSpec(
            "class_table",
            "package://edge_rover/config/classes.yaml",
            "class table: model classes map onto its profiles by name (model_names), the rest are dropped; "
            "empty: publish the model's own classes",
        ),
        ParamSpec(
            "source_domain",
            "",
            "where the images come from (each launch file sets it): sim or real; a model card of the other "
            "domain is warned about (empty: not checked)",
            choices=("", *DOMAINS),
        ),
        ParamSpec("max_detections", 100, "most detections per frame", min=1, max=1000),
        ParamSpec("diagnostics_period_s", 1.0, "period of /diagnostics", min=0.1, max=60.0),
    ]
)


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def config_from_params(values: dict) -> DetectorConfig:
    """Parameter values → DetectorConfig (pure; raises ValueError with the parameter's name)."""
    remap = {}
    for pair in _csv(values["class_remap"]):
        source, sep, target = pair.partition(":")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"class_remap entry {pair!r} is not 'model_name:output_name'")
        remap[source.strip()] = target.strip()
    model_classes = values["model_classes"].strip()
    if model_classes and "," in model_classes:
        model_classes = _csv(model_classes)
    height, width = values["input_height"], values["input_width"]
    if (height == 0) != (width == 0):
        raise ValueError("set both input_height and input_width, or neither")
    return DetectorConfig(
        model_path=str(resolve_url(values["model_path"])),
        backend=values["backend"],
        threads=values["threads"],
        conf_threshold=values["conf_threshold"],
        iou_threshold=values["iou_threshold"],
        input_hw=(height, width) if height else None,
        model_classes=model_classes or None,
        keep_classes=tuple(_csv(values["classes"])),
        class_remap=remap,
        model_card=str(resolve_url(values["model_card"])) if values["model_card"] else None,
        class_table=str(resolve_url(values["class_table"])) if values["class_table"] else None,
        max_detections=values["max_detections"],
        engine_cache_dir=values["engine_cache_dir"] or None,
        trt_precision=values["trt_precision"],
    )


class DetectorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("detector", **kwargs)
        values = declare_validated(self, PARAM_SPECS)
        config = config_from_params(values)
        self._source_domain = values["source_domain"]
        self._domain_warning: str | None = None
        self.detector: Detector | None = None
        self._load_error: BaseException | None = None
        self._loading_since = time.monotonic()
        # A TensorRT engine may take minutes to build on its first start: load it on a thread so
        # /diagnostics can say "not ready" meanwhile (no /detections: the controller stops).
        # Every other backend loads here, so a bad model stops the node at once.
        self._pending_choice = resolve_backend(config.backend, Path(config.model_path))
        if self._pending_choice.backend == "tensorrt":
            self.get_logger().info(f"loading TensorRT ({self._pending_choice.reason}); not ready until done")
            threading.Thread(target=self._load, args=(config,), name="detector-load", daemon=True).start()
        else:
            self._load(config)
            if self._load_error is not None:
                raise self._load_error
        self.stats = DetectorStats()
        self._published_at_last_diag = 0
        self._period_s = values["diagnostics_period_s"]
        self._mailbox = threading.Condition()
        self._pending = None  # newest unprocessed message
        self._stopping = False
        # Image size: boxes are always in the pixels of the frame they came from, whatever its
        # size; a size that changes mid-run (a camera reconfigured, a mixed bag) is still
        # processed, but counted, reported and logged: the mapper's camera_info may not match it.
        self._frame_size: tuple[int, int] | None = None
        self._size_changes = 0
        self._size_changes_at_last_diag = 0

        self.detections_pub = self.create_publisher(
            Detection2DArray,
            DETECTIONS,
            SENSOR_QOS,
        )
        self.image_pub = self.create_publisher(Image, DETECTIONS_IMAGE, SENSOR_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS, RELIABLE_QOS)
        if values["transport"] == "compressed":
            topic, msg_type, self._to_bgr = (
                values["image_topic"] + "/compressed",
                CompressedImage,
                compressed_to_bgr,
            )
        else:
            topic, msg_type, self._to_bgr = values["image_topic"], Image, image_to_bgr
        self.create_subscription(msg_type, topic, self._on_image, SENSOR_QOS)
        self.create_timer(self._period_s, self._publish_diagnostics)
        self._worker = threading.Thread(target=self._work, name="detector-worker", daemon=True)
        self._worker.start()

    def _load(self, config: DetectorConfig) -> None:
        try:
            detector = Detector(config, log=self.get_logger().info)
        except Exception as err:  # raised from the node (or the executor, for the thread) below
            self._load_error = err
            return
        height, width = detector.input_hw
        choice = detector.backend_choice
        engine = getattr(detector.backend, "engine_folder", None)
        self.get_logger().info(
            f"model {detector.model_path} on {choice.backend} ({choice.reason}), input "
            f"{height}x{width}, classes {list(detector.class_names)}"
            + (f", engine {engine} ({detector.backend.engine_state})" if engine else "")
            + (
                f"; dropped (no class profile) {list(detector.dropped_classes)}"
                if detector.dropped_classes
                else ""
            )
        )
        model_domain = detector.card.domain if detector.card is not None else None
        self._model_domain = model_domain
        self._domain_warning = domain_mismatch(model_domain, self._source_domain, detector.model_path.name)
        if self._domain_warning:
            self.get_logger().warning(self._domain_warning)
        self.detector = detector

    # executor thread: only hand over the newest frame
    def _on_image(self, msg) -> None:
        with self._mailbox:
            self.stats.frames_in += 1
            if self._pending is not None:
                self.stats.dropped += 1
            self._pending = msg
            self._mailbox.notify()

    def _work(self) -> None:
        while True:
            with self._mailbox:
                while self._pending is None and not self._stopping:
                    self._mailbox.wait(timeout=0.5)
                if self._stopping:
                    return
                msg, self._pending = self._pending, None
            self._process(msg)

    def _process(self, msg) -> None:
        if self.detector is None:  # still loading (TensorRT build): no detections; a dropped frame,
            self.stats.dropped += 1  # not an error (that would leave the node WARN once it runs)
            return
        started = time.perf_counter()
        try:
            image = self._to_bgr(msg)
            self._note_size(image.shape[1], image.shape[0])
            result = self.detector.detect(image)
        except ImageConversionError as err:
            self.stats.errors["bad_image"] += 1
            self.get_logger().warning(f"dropped an unusable image: {err}", throttle_duration_sec=5.0)
            return
        except FrameError as err:
            self.stats.errors[err.kind] += 1
            self.get_logger().warning(f"frame skipped ({err.kind}): {err}", throttle_duration_sec=5.0)
            return
        except Exception as err:  # a bug on one frame must not silently stop the worker thread
            self.stats.errors["internal_error"] += 1
            self.get_logger().error(f"frame skipped, internal error: {err!r}", throttle_duration_sec=5.0)
            return
        if not self.context.ok():  # shutting down: the publishers are gone
            return
        found = result.detections
        self.detections_pub.publish(
            detections_to_msg(found.boxes, found.scores, found.names(), msg.header.stamp, msg.header.frame_id)
        )
        if self.image_pub.get_subscription_count() > 0:
            annotated = draw_detections(image, result.detections)
            self.image_pub.publish(bgr_to_image(annotated, msg.header.stamp, msg.header.frame_id))
        processing_ms = (time.perf_counter() - started) * 1e3
        now_s = self.get_clock().now().nanoseconds * 1e-9
        age_ms = (now_s - stamp_to_sec(msg.header.stamp)) * 1e3
        timings = result.timings
        self.stats.record(processing_ms, age_ms, timings.preprocess_ms + timings.postprocess_ms)

    def _note_size(self, width: int, height: int) -> None:
        size = (width, height)
        if self._frame_size is not None and size != self._frame_size:
            self._size_changes += 1
            self.get_logger().warning(
                f"image size changed from {self._frame_size[0]}x{self._frame_size[1]} to {width}x{height} "
                f"({self._size_changes} changes so far); detections are in the new frame's pixels, "
                "check that /camera/camera_info matches",
                throttle_duration_sec=5.0,
            )
        self._frame_size = size

    def _publish_diagnostics(self) -> None:
        done = self.stats.frames_done
        level, message, values = self.stats.summary(done - self._published_at_last_diag, self._period_s)
        self._published_at_last_diag = done
        values["frame_size"] = "x".join(map(str, self._frame_size)) if self._frame_size else "none"
        values["size_changes"] = str(self._size_changes)
        if self._size_changes > self._size_changes_at_last_diag and level < WARN:
            level, message = WARN, f"image size changed (now {values['frame_size']})"
        self._size_changes_at_last_diag = self._size_changes
        choice = self.detector.backend_choice if self.detector is not None else self._pending_choice
        values["backend"] = choice.backend
        values["backend_reason"] = choice.reason
        values["ready"] = str(self.detector is not None).lower()
        values["source_domain"] = self._source_domain or "unset"
        if self.detector is not None:
            values["model_domain"] = self._model_domain or "unknown"
        if self._domain_warning:
            values["domain_mismatch"] = self._domain_warning
            if level <= WARN:  # the wrong world outranks "no images yet"; the other state stays in values
                values["state"] = message
                level, message = WARN, self._domain_warning
        engine = getattr(self.detector.backend, "engine_folder", None) if self.detector else None
        if engine is not None:
            values["engine"] = f"{engine} ({self.detector.backend.engine_state})"
        readiness = not_ready_status(self.detector is not None, self._load_error,
                                     time.monotonic() - self._loading_since)  # fmt: skip
        if readiness is not None:
            level, message = readiness
        status = Status(
            name=f"{self.get_name()}: detector",
            level=level,
            message=message,
            values=values,
            hardware_id=choice.backend,
        )
        self.diag_pub.publish(diagnostics_to_msg(status, self.get_clock().now().to_msg()))
        if self._load_error is not None:
            raise self._load_error  # from the executor: run_node reports it in one line, exit 1

    def destroy_node(self) -> None:
        with self._mailbox:
            self._stopping = True
            self._mailbox.notify()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node(DetectorNode, "detector", args, config_errors=(ModelLoadError, BackendUnavailableError))


if __name__ == "__main__":
    sys.exit(main())
