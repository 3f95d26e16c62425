"""Procedural camera simulator: renderer (``renderer``), scenarios and rover dynamics
(``scenarios``, ``dynamics``), headless closed loop (``closed_loop``), YOLO dataset export
(``dataset``), bag writer (``bag_export``) and the ROS node (``sim_node``). CLI: ``python -m simulation``.
"""
