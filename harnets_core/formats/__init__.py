"""File and wire formats: BVH, video and the decoded-frame cache, rosbag2 messages, the suit broadcast."""
