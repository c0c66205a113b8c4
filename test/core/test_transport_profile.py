"""harnets_core.transport: which environment the graph's processes get for the Fast DDS profile."""
from __future__ import annotations

from pathlib import Path

import pytest

from harnets_core.errors import ConfigError
from harnets_core.transport import apply_transport_env, transport_env

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize("distro, variables", [
    ("", ["FASTDDS_DEFAULT_PROFILES_FILE"]),  # Fast DDS 3 (Kilted): the old name would log a deprecation in every node
    ("kilted", ["FASTDDS_DEFAULT_PROFILES_FILE"]),
    ("jazzy", ["FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE"]),  # Fast DDS 2.x reads the old name
])
def test_the_shipped_profile_is_set_under_the_name_fast_dds_reads(distro, variables):
    env = transport_env(CONFIG, {"ROS_DISTRO": distro} if distro else {})
    assert sorted(env) == variables
    assert {Path(v) for v in env.values()} == {(CONFIG / "fastdds.xml").resolve()}
    text = (CONFIG / "fastdds.xml").read_text()
    assert 'is_default_profile="true"' in text and "<useBuiltinTransports>false</useBuiltinTransports>" in text


def test_the_shipped_profile_is_shared_memory_with_room_for_frames_plus_udp_and_no_tcp():
    """What docs/TRANSPORT.md promises, read from the file Fast DDS reads."""
    import xml.etree.ElementTree as ET

    ns = {"d": "http://www.eprosima.com"}
    root = ET.parse(CONFIG / "fastdds.xml").getroot()
    descriptors = {d.findtext("d:transport_id", namespaces=ns): d
                   for d in root.iterfind("d:profiles/d:transport_descriptors/d:transport_descriptor", ns)}
    kinds = {i: d.findtext("d:type", namespaces=ns) for i, d in descriptors.items()}
    assert sorted(kinds.values()) == ["SHM", "UDPv4"]  # no TCP
    shm = next(d for d in descriptors.values() if d.findtext("d:type", namespaces=ns) == "SHM")
    assert int(shm.findtext("d:segment_size", namespaces=ns)) >= 5 * 1920 * 1080 * 3  # five 1080p frames
    participant = root.find("d:profiles/d:participant[@is_default_profile='true']", ns)
    used = [t.text for t in participant.iterfind("d:rtps/d:userTransports/d:transport_id", ns)]
    assert sorted(used) == sorted(descriptors) and participant.findtext("d:rtps/d:useBuiltinTransports", namespaces=ns) == "false"


@pytest.mark.parametrize("variable", ["FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS"])
def test_a_transport_the_user_chose_stands(variable):
    environ = {variable: "/etc/my_profile.xml" if "FILE" in variable else "UDPv4"}
    assert transport_env(CONFIG, environ) == {}
    assert apply_transport_env(CONFIG, environ) == {} and len(environ) == 1


def test_the_profile_can_be_turned_off_or_replaced(tmp_path):
    assert transport_env(CONFIG, {"HARNETS_DDS_PROFILE": "none"}) == {}
    own = tmp_path / "cell.xml"
    own.write_text("<dds/>")
    environ = {"HARNETS_DDS_PROFILE": str(own)}
    assert apply_transport_env(CONFIG, environ) == {"FASTDDS_DEFAULT_PROFILES_FILE": str(own)}
    assert environ["FASTDDS_DEFAULT_PROFILES_FILE"] == str(own)


def test_a_missing_profile_is_an_error_not_the_lossy_default(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.xml: no Fast DDS profile there \(HARNETS_DDS_PROFILE="):
        transport_env(CONFIG, {"HARNETS_DDS_PROFILE": str(tmp_path / "nope.xml")})
    with pytest.raises(ConfigError, match=r"fastdds\.xml: no Fast DDS profile there \(the package's config folder"):
        transport_env(tmp_path, {})
