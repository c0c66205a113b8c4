"""What the live views draw, as plain data (no ROS): the skeleton's bones and the activity
label for RViz / Foxglove markers (``markers``), the activity forecast as text lines under the
label (``forecast_text``), and the label drawn on camera images (``annotate``).
``harnets_ros.visualization_node`` turns them into messages."""
