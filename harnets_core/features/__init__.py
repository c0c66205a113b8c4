"""From raw samples to model inputs: forward kinematics, skeleton features, pose keypoints, the shared pipelines."""
