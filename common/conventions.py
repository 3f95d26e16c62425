"""Conventions every node must agree on, defined once.

``/cmd_vel`` ``angular.z`` can mean two things, and the controller (which writes it), the serial
bridge and the simulator (which read it) must all mean the same: a node that reads a yaw rate as
a wheel angle steers about v / wheelbase times too much at speed. So the three nodes share one
parameter name, one set of values and one default from here, and the launch files pass one
launch argument to all of them (``tests/launch/test_launch_agreement.py`` checks it).
"""

from __future__ import annotations

ANGULAR_Z_PARAM = "cmd_vel_angular_z"
YAW_RATE = "yaw_rate"  # rad/s: the geometry_msgs/Twist convention (REP-103)
STEERING_ANGLE = "steering_angle"  # rad: front-wheel angle, for Ackermann drives that take an angle
ANGULAR_Z_CHOICES = (YAW_RATE, STEERING_ANGLE)
ANGULAR_Z_DEFAULT = YAW_RATE
ANGULAR_Z_HELP = (
    "/cmd_vel angular.z: yaw_rate (rad/s; the Twist convention) or steering_angle (rad; front-wheel "
    "angle). Controller, serial bridge and simulator must agree: launch files pass one argument to all"
)

# The motor MCU's stable device name on the rover, made by deploy/udev/99-edge-rover-mcu.rules;
# rover.launch.py's default serial_port (the serial_bridge node's own default stays the emulator's
# /tmp/edge_rover_mcu for development off the robot).
ROVER_MCU_DEVICE = "/dev/edge_rover_mcu"
