"""pip install . : harnets_core and the `harnets` command line, for machines without ROS.

The ROS 2 package (messages, nodes, launch files) is built with colcon from
CMakeLists.txt/package.xml; this file serves people who only train and evaluate models.
"""
from pathlib import Path
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithMessages(build_py):
    """Ship msg/*.msg inside harnets_core/msg (rosbag2 writing needs the definitions)."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / "harnets_core" / "msg"
        target.mkdir(parents=True, exist_ok=True)
        for msg in sorted((HERE / "msg").glob("*.msg")):
            shutil.copy2(msg, target / msg.name)


setup(
    name="harnets",
    version="0.1.0",
    description="Human activity recognition for industrial workcells (InHARD): "
    "skeleton, RGB and pose models; training, evaluation, streaming inference.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["harnets_core", "harnets_core.*"]),
    package_data={"harnets_core": ["data/*.bvh", "data/*.csv", "msg/*.msg"]},
    install_requires=[
        "torch>=2.2,<3",
        "numpy>=1.24",
        "opencv-python-headless>=4.8,<5",
        "scikit-learn>=1.3",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "safetensors>=0.4",
        "rosbags>=0.10",
        "rosbags-image>=0.9",
        "bvh>=0.3",
        "PyYAML>=6",
    ],
    extras_require={
        # mediapipe requires opencv-contrib-python unbounded; it writes the same cv2 module as
        # opencv-python-headless, and OpenCV 5 has no Caffe importer (OpenPose): keep both on 4.
        "pose": ["mediapipe==0.10.14", "opencv-contrib-python>=4.8,<5"],
        "onnx": ["onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.18"],
        "test": ["pytest>=7", "hypothesis>=6", "pytest-timeout>=2"],
    },
    cmdclass={"build_py": BuildPyWithMessages},
    entry_points={"console_scripts": ["harnets=harnets_core.cli.main:main"]},
)
