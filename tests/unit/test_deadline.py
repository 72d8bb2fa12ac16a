"""The pieces behind "every wait has a bound": a deadline ends the connections it watches, a watchdog expires
deadlines on time and leaves no thread behind, and a run's worker threads are daemons that a call given up on no
longer holds (issue 19, item 2)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import pytest

from workbench.checks.workers import Workers
from workbench.net.deadline import Deadline, Watchdog, bind, watch, within

HANG = 10.0


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def _blocked_recv(sock: socket.socket) -> tuple[threading.Thread, list[bytes]]:
    received: list[bytes] = []
    thread = threading.Thread(target=lambda: received.append(sock.recv(10)), daemon=True)
    thread.start()
    return thread, received


def _until(condition: Callable[[], bool], failure: str) -> None:
    stop = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < stop, failure
        time.sleep(0.02)


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_expiring_a_deadline_wakes_a_thread_blocked_on_a_watched_socket(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    limit = Deadline()
    limit.watch(ours)
    thread, received = _blocked_recv(ours)
    time.sleep(0.1)
    assert thread.is_alive()
    limit.expire()
    thread.join(HANG)
    assert not thread.is_alive() and received == [b""]  # the connection ended under the reader


def test_an_enclosing_deadline_ends_what_an_inner_one_watches(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = pair
    call = Deadline()
    with bind(call), within(None) as request:
        watch(ours)
        assert request.parent is call
        thread, received = _blocked_recv(ours)
        call.expire()
        thread.join(HANG)
    assert received == [b""] and request.ended and not request.expired


def test_a_socket_watched_after_expiry_is_ended_at_once(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = pair
    limit = Deadline()
    limit.expire()
    limit.watch(ours)
    assert ours.recv(10) == b""


def test_closing_a_deadline_lets_go_of_its_descriptors_and_leaves_the_socket_alone(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    before = _open_descriptors()
    limit = Deadline()
    limit.watch(ours)
    limit.watch(ours)  # once is enough
    assert _open_descriptors() == before + 1
    limit.close()
    assert _open_descriptors() == before
    limit.expire()  # too late: the call is over and its socket is someone else's business
    theirs.sendall(b"hi")
    assert ours.recv(10) == b"hi"


def test_a_watchdog_expires_a_deadline_on_time_and_its_thread_ends_when_idle() -> None:
    dog = Watchdog("test-deadlines", idle=0.2)
    limit = Deadline(0.2)
    dog.arm(limit)
    assert dog.alive
    _until(lambda: limit.expired, "the deadline never expired")
    _until(lambda: not dog.alive, "the watchdog's thread stayed")


def test_a_closed_deadline_is_never_expired_by_the_watchdog() -> None:
    dog = Watchdog("test-deadlines", idle=0.1)
    limit = Deadline(0.1)
    dog.arm(limit)
    limit.close()
    time.sleep(0.3)
    assert not limit.expired


def test_run_threads_are_daemons_and_shutting_down_waits_for_nobody() -> None:
    workers = Workers(2, "test-run")
    release = threading.Event()
    future = workers.submit(release.wait, HANG)
    time.sleep(0.05)
    threads = [t for t in threading.enumerate() if t.name.startswith("test-run_")]
    assert threads and all(t.daemon for t in threads)
    started = time.monotonic()
    workers.shutdown(wait=True)
    assert time.monotonic() - started < 1
    with pytest.raises(RuntimeError):
        workers.submit(print)
    release.set()
    assert future.result(HANG) is True


def test_a_call_given_up_on_frees_its_place_for_the_next() -> None:
    workers = Workers(1, "test-abandon")
    stuck = threading.Event()
    first: Future[bool] = workers.submit(stuck.wait, HANG)
    second: Future[str] = workers.submit(lambda: "ran")
    time.sleep(0.1)
    assert not second.done()  # one thread, and it is taken
    workers.abandon(first)
    assert second.result(HANG) == "ran"
    assert workers.busy == 0
    stuck.set()
    assert first.result(HANG) is True
    workers.shutdown()


def test_queued_calls_still_run_after_shutdown_and_cancelled_ones_never_do() -> None:
    workers = Workers(1, "test-drain")
    gate = threading.Event()
    ran: list[str] = []
    workers.submit(gate.wait, HANG)
    cancelled = workers.submit(ran.append, "cancelled")
    kept = workers.submit(ran.append, "kept")
    assert cancelled.cancel()
    workers.shutdown()
    gate.set()
    kept.result(HANG)
    assert ran == ["kept"]


def test_a_closed_watchdog_s_thread_ends_once_its_deadlines_are_over() -> None:
    dog = Watchdog("test-deadlines", idle=60)  # it would linger a minute for more
    early, late = Deadline(30), Deadline(60)
    dog.arm(late)
    dog.arm(early)
    late.close()
    dog.close()
    assert dog.alive  # `early` is still open
    early.close()
    _until(lambda: not dog.alive, "the watchdog's thread stayed after its owner closed it")
