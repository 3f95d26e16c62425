"""Simulator message conversion (the package's one conversion module): truth, odometry, clock."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion, TransformStamped
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from tf2_msgs.msg import TFMessage
from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose

from edge_rover.perception.mapping.obstacle_conversions import (
    VELOCITY_RESULT_ID,  # one definition of the convention
)
from edge_rover.simulation.dynamics import RoverState
from edge_rover.simulation.renderer import ObjectTruth


def yaw_to_quaternion(yaw: float) -> Quaternion:
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def truth_to_detection3d_array(
    truths: list[ObjectTruth], stamp: Time, frame_id: str = "base_link"
) -> Detection3DArray:
    """Ground truth in base_link: bbox centre/size/yaw, class name as hypothesis, id = object index.

    The class hypothesis' score is the fraction of the object the camera sees (1 − occlusion; 0
    when out of view). vision_msgs has no velocity field, so — as the obstacle mapper does — a
    second result with class_id "velocity" carries (vx, vy) over ground in base_link axes in its
    ``pose.pose.position``.
    """
    msg = Detection3DArray()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    for truth in truths:
        det = Detection3D()
        det.header = msg.header
        det.id = str(truth.object_index)
        x, y, z = truth.position
        det.bbox.center.position.x, det.bbox.center.position.y, det.bbox.center.position.z = x, y, z
        det.bbox.center.orientation = yaw_to_quaternion(truth.yaw)
        det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = (float(v) for v in truth.size)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = truth.class_name
        hypothesis.hypothesis.score = 1.0 - float(truth.occlusion)
        hypothesis.pose.pose = det.bbox.center
        det.results.append(hypothesis)
        velocity = ObjectHypothesisWithPose()
        velocity.hypothesis.class_id = VELOCITY_RESULT_ID
        velocity.hypothesis.score = 1.0
        velocity.pose.pose.position.x, velocity.pose.pose.position.y = (float(v) for v in truth.velocity[:2])
        det.results.append(velocity)
        msg.detections.append(det)
    return msg


def rover_to_odometry(
    state: RoverState, yaw_rate: float, stamp: Time, odom_frame: str = "odom", base_frame: str = "base_link"
) -> Odometry:
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = odom_frame
    msg.child_frame_id = base_frame
    msg.pose.pose.position.x, msg.pose.pose.position.y = state.x, state.y
    msg.pose.pose.orientation = yaw_to_quaternion(state.yaw)
    msg.twist.twist.linear.x = state.speed
    msg.twist.twist.angular.z = yaw_rate
    # Simulated odometry is exact; small diagonal covariances keep consumers' filters sane.
    msg.pose.covariance[0] = msg.pose.covariance[7] = msg.pose.covariance[35] = 1e-4
    msg.twist.covariance[0] = msg.twist.covariance[35] = 1e-4
    return msg


def rover_to_tf(
    state: RoverState, stamp: Time, odom_frame: str = "odom", base_frame: str = "base_link"
) -> TFMessage:
    transform = TransformStamped()
    transform.header.stamp = stamp
    transform.header.frame_id = odom_frame
    transform.child_frame_id = base_frame
    transform.transform.translation.x, transform.transform.translation.y = state.x, state.y
    transform.transform.rotation = yaw_to_quaternion(state.yaw)
    return TFMessage(transforms=[transform])


def clock_message(stamp: Time) -> Clock:
    return Clock(clock=stamp)
