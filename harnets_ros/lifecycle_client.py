"""Drive lifecycle nodes through configure and activate (what `ros2 launch` events or
`ros2 lifecycle set` do), for the project's own no-launch graph runner and the tests."""
from __future__ import annotations

import time

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.node import Node

from harnets_core.errors import HarnetsError

__all__ = ["get_state", "change_state", "bring_up"]

_IDS = {"configure": Transition.TRANSITION_CONFIGURE, "activate": Transition.TRANSITION_ACTIVATE,
        "deactivate": Transition.TRANSITION_DEACTIVATE, "cleanup": Transition.TRANSITION_CLEANUP}


_RETRY_S = 2.0
"""A request unanswered for this long is sent again (or, for a transition, checked): a reply
can be lost when the service's reply writer has not yet matched this client's reply reader,
although the request arrived (seen as a `get_state` that never answered, now and then, in the
ROS test suite)."""

_REACHES = {"configure": "inactive", "activate": "active", "deactivate": "inactive", "cleanup": "unconfigured"}
_UNDER_WAY = {"configuring", "activating", "deactivating", "cleaningup", "shuttingdown", "errorprocessing"}


def _call(node: Node, client, request, timeout_s: float, check=None, resend: bool = True):
    """The service's reply within ``timeout_s``. Every ``_RETRY_S`` without one the request is
    sent again (``resend``). ``check()``, for a request that must not run twice, is asked
    first: True (it took effect: the wait ends with ``None``), None (still under way: wait on,
    no new request) or False (send again). ``resend=False``: sent once."""
    deadline = time.monotonic() + timeout_s
    if not client.wait_for_service(timeout_sec=timeout_s):
        raise HarnetsError(f"lifecycle service {client.srv_name} not available after {timeout_s:.0f} s")
    executor = node.executor
    if executor is None:  # a node not spun yet: a private executor for this call
        executor = rclpy.executors.SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
    futures = [client.call_async(request)]
    while True:
        executor.spin_until_future_complete(futures[-1], timeout_sec=max(0.05, min(_RETRY_S, deadline - time.monotonic())))
        answered = next((f for f in futures if f.done()), None)
        if answered is not None:
            return answered.result()
        if time.monotonic() >= deadline:
            raise HarnetsError(f"lifecycle service {client.srv_name} did not answer in {timeout_s:.0f} s")
        verdict = check() if check is not None else False
        if verdict:
            return None
        if resend and verdict is False:
            futures.append(client.call_async(request))


def get_state(node: Node, target: str, timeout_s: float = 10.0) -> str:
    """Label of the lifecycle state of node `target` (fully qualified name), e.g. 'active'."""
    client = node.create_client(GetState, f"{target}/get_state")
    try:
        return _call(node, client, GetState.Request(), timeout_s).current_state.label
    finally:
        node.destroy_client(client)


def change_state(node: Node, target: str, transition: str, timeout_s: float = 30.0) -> bool:
    """Trigger one transition ('configure', 'activate', ...; others, e.g. 'shutdown', by
    label); True when it succeeded."""
    client = node.create_client(ChangeState, f"{target}/change_state")
    try:
        request = ChangeState.Request()
        if transition in _IDS:
            request.transition.id = _IDS[transition]
        else:
            request.transition.label = transition
        goal = _REACHES.get(transition)
        if goal is None:  # a transition whose outcome is not checked here: sent once
            return bool(_call(node, client, request, timeout_s, resend=False).success)

        def check() -> bool | None:
            try:
                state = get_state(node, target, _RETRY_S * 2)
            except HarnetsError:
                return None  # not known now: wait on
            return True if state == goal else (None if state in _UNDER_WAY else False)

        result = _call(node, client, request, timeout_s, check)
        return True if result is None else bool(result.success)
    finally:
        node.destroy_client(client)


def bring_up(node: Node, target: str, timeout_s: float = 30.0) -> None:
    """configure then activate `target`; raise HarnetsError naming the node if either fails."""
    deadline = time.monotonic() + timeout_s
    state = get_state(node, target, timeout_s)
    if state == "unconfigured" and not change_state(node, target, "configure", max(1.0, deadline - time.monotonic())):
        raise HarnetsError(f"{target}: configure failed (see its log and /diagnostics)")
    if get_state(node, target, timeout_s) == "inactive" and not change_state(node, target, "activate", max(1.0, deadline - time.monotonic())):
        raise HarnetsError(f"{target}: activate failed")
