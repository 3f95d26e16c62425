"""Message codecs: one module per ROS message family, each with its encode/decode pair.

The module docstrings are the one written source of each message convention (what a field
means, units, frames, how a decoder treats what it does not expect):

=================  ===================================================================
``stamps``         builtin_interfaces/Time ↔ float seconds
``geometry``       geometry_msgs/Quaternion ↔ yaw (and the pitch of an orientation)
``image``          sensor_msgs/Image, CompressedImage ↔ BGR pixels; CameraInfo ↔ intrinsics
``detections``     vision_msgs/Detection2DArray (``detections``) ↔ pixel boxes
``obstacles``      vision_msgs/Detection3DArray (``obstacles``, ``sim/ground_truth``) ↔ boxes
``grid``           nav_msgs/OccupancyGrid (``obstacle_map``) ↔ cells
``odometry``       nav_msgs/Odometry (``odom``) and the odom → base_link tf ↔ pose and twist
``twist``          geometry_msgs/Twist, TwistStamped (``cmd_vel``) ↔ (speed, angular.z)
``diagnostics``    diagnostic_msgs/DiagnosticArray (``safety/status``, ``diagnostics``)
``markers``        visualization_msgs/MarkerArray building blocks and colours (RViz only)
``battery``        sensor_msgs/BatteryState (``battery``)
=================  ===================================================================

Decoded values are plain numbers, arrays and the small records defined here: this package
imports nothing from the subsystems above ``common`` (their node adapters turn core types into
these records and back). Nodes, tools, tests and benchmarks all use these modules; none decodes a
message by hand.
"""
