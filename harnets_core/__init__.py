"""harnets_core: human activity recognition for industrial workcells (InHARD), without ROS.

Reading BVH skeletons and InHARD videos, features, models (skeleton LSTM, RGB CNN-LSTM,
pose-keypoint LSTM), training, evaluation, prediction and streaming inference.
"""
__version__ = "0.1.0"
__all__ = ["__version__"]
