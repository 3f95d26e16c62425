"""nav_msgs/Odometry (``odom``) and the odom → base_link transform (``tf``) ↔ planar pose and twist.

Odometry: ``header.frame_id`` = odom, ``child_frame_id`` = base_link; ``pose.pose`` = the rover's
planar pose in odom (x, y, yaw about z; the simulator and the wheel odometry are planar, an IMU
may add pitch, which the mapper reads); ``twist.twist`` in base_link: ``linear.x`` = forward speed
(m/s), ``angular.z`` = yaw rate (rad/s). Covariances are diagonal: (x, y, yaw) for the pose,
(forward speed, yaw rate) for the twist — wheel odometry says its pose drifts and its twist is good,
the simulator's are small. The transform carries the same pose (odom → base_link). Non-finite
values pass through for the consumer to refuse; a non-finite yaw cannot be encoded.
"""

from __future__ import annotations

from typing import NamedTuple

from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from nav_msgs.msg import Odometry
from tf2_msgs.msg import TFMessage

from edge_rover.common.msgs.geometry import pitch_from_quaternion, quaternion_from_yaw, yaw_from_quaternion
from edge_rover.common.msgs.stamps import stamp_to_sec


class PlanarOdometry(NamedTuple):
    stamp: float  # s
    x: float  # m, in odom
    y: float
    yaw: float  # rad
    speed: float  # m/s forward
    yaw_rate: float  # rad/s
    pitch: float = 0.0  # rad, from the orientation (0 for planar sources)


def odometry_to_msg(
    pose: tuple[float, float, float],
    speed: float,
    yaw_rate: float,
    stamp: Time,
    odom_frame: str,
    base_frame: str,
    pose_variance: tuple[float, float, float] = (0.0, 0.0, 0.0),
    twist_variance: tuple[float, float] = (0.0, 0.0),
) -> Odometry:
    """``pose`` = (x, y, yaw) in odom; variances are the diagonal entries (x, y, yaw), (speed, yaw rate)."""
    x, y, yaw = pose
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = odom_frame
    msg.child_frame_id = base_frame
    msg.pose.pose.position.x, msg.pose.pose.position.y = float(x), float(y)
    msg.pose.pose.orientation = quaternion_from_yaw(yaw)
    msg.twist.twist.linear.x = float(speed)
    msg.twist.twist.angular.z = float(yaw_rate)
    msg.pose.covariance[0], msg.pose.covariance[7], msg.pose.covariance[35] = (
        float(v) for v in pose_variance
    )
    msg.twist.covariance[0], msg.twist.covariance[35] = (float(v) for v in twist_variance)
    return msg


def odometry_from_msg(msg: Odometry) -> PlanarOdometry:
    pose = msg.pose.pose
    return PlanarOdometry(
        stamp=stamp_to_sec(msg.header.stamp),
        x=float(pose.position.x),
        y=float(pose.position.y),
        yaw=yaw_from_quaternion(pose.orientation),
        speed=float(msg.twist.twist.linear.x),
        yaw_rate=float(msg.twist.twist.angular.z),
        pitch=pitch_from_quaternion(pose.orientation),
    )


def pose_to_tf(pose: tuple[float, float, float], stamp: Time, odom_frame: str, base_frame: str) -> TFMessage:
    """The odom → base_link transform of the planar pose (x, y, yaw)."""
    x, y, yaw = pose
    transform = TransformStamped()
    transform.header.stamp = stamp
    transform.header.frame_id = odom_frame
    transform.child_frame_id = base_frame
    transform.transform.translation.x, transform.transform.translation.y = float(x), float(y)
    transform.transform.rotation = quaternion_from_yaw(yaw)
    return TFMessage(transforms=[transform])


def pose_from_tf(msg: TFMessage, child_frame: str) -> tuple[float, float, float] | None:
    """(x, y, yaw) of the transform to ``child_frame`` in a TFMessage; None when it has none."""
    for transform in msg.transforms:
        if transform.child_frame_id == child_frame:
            t = transform.transform
            return float(t.translation.x), float(t.translation.y), yaw_from_quaternion(t.rotation)
    return None
