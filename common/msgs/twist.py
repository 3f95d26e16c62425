"""geometry_msgs/Twist and TwistStamped (``cmd_vel``, ``cmd_vel_in``) ↔ (speed, angular.z).

``linear.x`` = forward speed (m/s, negative reverses); ``angular.z`` = yaw rate (rad/s, the Twist
convention) or front-wheel steering angle (rad) — which one is the shared parameter in
``common/conventions.py`` (writer and readers must agree). Everything else is zero. TwistStamped
(controller ``cmd_vel_stamped``): the stamp is the capture stamp of the obstacles the command was
decided on, ``frame_id`` = base_link. The decoder takes either type; non-finite values pass
through for the reader to refuse (the serial bridge and the simulator stop on them).
"""

from __future__ import annotations

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist, TwistStamped


def twist_to_msg(speed: float, angular_z: float) -> Twist:
    msg = Twist()
    msg.linear.x = float(speed)
    msg.angular.z = float(angular_z)
    return msg


def twist_stamped_to_msg(speed: float, angular_z: float, stamp: Time, frame_id: str) -> TwistStamped:
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.twist = twist_to_msg(speed, angular_z)
    return msg


def twist_from_msg(msg: Twist | TwistStamped) -> tuple[float, float]:
    """(linear.x, angular.z) of a Twist or TwistStamped."""
    twist = msg.twist if isinstance(msg, TwistStamped) else msg
    return float(twist.linear.x), float(twist.angular.z)
