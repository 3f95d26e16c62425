"""The installed `camera` executable on real DDS: a folder of real images → image + camera_info
with identical stamps; bad parameters → one clear error and exit code 1."""

import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.ros_helpers import running_process, spin_until

pytestmark = pytest.mark.ros


def _run_camera(*params: str) -> list[str]:
    return ["ros2", "run", "edge_rover", "camera", "--ros-args", *[a for p in params for a in ("-p", p)]]


def test_folder_source_publishes_real_pixels_with_matching_camera_info(ros_context, tmp_path: Path) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import CameraInfo, Image

    from edge_rover.common.msgs.image import image_to_bgr
    from edge_rover.common.msgs.stamps import stamp_to_sec
    from edge_rover.common.qos import SENSOR_QOS

    for i in range(3):
        frame = np.zeros((240, 320, 3), np.uint8)
        frame[:, :, 1] = 60 * (i + 1)
        cv2.imwrite(str(tmp_path / f"{i}.png"), frame)
    node = rclpy.create_node("camera_probe", context=ros_context)
    images, infos = [], {}
    node.create_subscription(Image, "/camera/image_raw", images.append, SENSOR_QOS)
    node.create_subscription(
        CameraInfo,
        "/camera/camera_info",
        lambda m: infos.__setitem__(stamp_to_sec(m.header.stamp), m),
        SENSOR_QOS,
    )
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    cmd = _run_camera(f"source:={tmp_path}", "width:=320", "height:=240", "fps:=20.0", "loop:=true")
    with running_process(cmd) as proc:
        got = spin_until(executor, lambda: len(images) >= 10, timeout_s=45.0)
        spin_until(executor, lambda: False, timeout_s=0.2)
        output = proc.stdout.read() if proc.poll() is not None else ""
        assert got, f"only {len(images)} images; camera output:\n{output}"
    greens = {int(image_to_bgr(m)[0, 0, 1]) for m in images}
    assert greens <= {60, 120, 180} and len(greens) == 3
    assert images[0].width == 320 and images[0].encoding == "bgr8"
    matched = [m for m in images if stamp_to_sec(m.header.stamp) in infos]
    assert len(matched) >= len(images) - 2
    info = infos[stamp_to_sec(matched[0].header.stamp)]
    assert (info.width, info.height) == (320, 240)
    assert info.k[0] == pytest.approx(160.0)  # the 640x480 default calibration scaled by 0.5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["source:=/nonexistent/video.mp4"], "video file not found"),
        (["source:=/tmp", "fps:=0.0"], "fps=0.0 is below its minimum"),
        (["source:=/tmp", "fps:=30"], "fps must be of type float (write 30.0"),
        (["source:=/tmp", "camera_info_url:=file:///nonexistent/cam.yaml"], "camera_info file not found"),
        (["source:=/tmp", "width:=400", "height:=400"], "different aspect ratio"),
    ],
)
def test_bad_parameters_fail_at_start_with_one_clear_error(params: list[str], message: str) -> None:
    start = time.monotonic()
    result = subprocess.run(_run_camera(*params), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert time.monotonic() - start < 60


def test_csi_source_without_gstreamer_exits_with_one_line() -> None:
    """The PyPI OpenCV here has no GStreamer: csi://0 is refused at start, before any retry loop."""
    from edge_rover.perception.camera.capture import opencv_has_gstreamer

    if opencv_has_gstreamer():
        pytest.skip("this OpenCV has GStreamer (a Jetson): the pipeline would be opened")
    result = subprocess.run(
        ["ros2", "run", "edge_rover", "camera", "--ros-args", "-p", "source:=csi://0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "without GStreamer" in result.stderr and "Traceback" not in result.stderr
