"""Claiming the messages a dead member of the consumer group left unacknowledged (Redis streams)."""

from __future__ import annotations

import time
from typing import Any

import redis

from apps.eventbus.buses.redis_streams import RedisStreamConsumer, full_topic


def add(client: redis.Redis, topic: str, n: int) -> None:
    for i in range(n):
        client.xadd(full_topic(topic), {b"id": f"id-{i}".encode(), b"type": b"t", b"event_data": str(i).encode()})


def read_all(consumer: RedisStreamConsumer, *, count: int) -> list[bytes]:
    payloads: list[bytes] = []
    while messages := consumer.read(count=count, block_ms=10):
        payloads += [m.payload for m in messages]
        consumer.ack(m.message_id for m in messages)
    return payloads


def test_a_running_member_claims_messages_once_they_become_idle_enough(bus_redis: redis.Redis, settings: Any) -> None:
    # given: c1 read two messages and died; c2 started at once, before they were idle long enough
    settings.EVENT_BUS_REDIS_CLAIM_IDLE_MS = 300
    add(bus_redis, "c1", 2)
    RedisStreamConsumer(topic="c1", group="g", consumer="c1").read(count=10, block_ms=10)
    c2 = RedisStreamConsumer(topic="c1", group="g", consumer="c2")
    assert c2.read(count=10, block_ms=10) == []
    # when: c2 keeps reading
    time.sleep(0.6)
    claimed = read_all(c2, count=10)
    # then
    assert claimed == [b"0", b"1"]
    assert bus_redis.xpending(full_topic("c1"), "g")["pending"] == 0


def test_all_of_a_dead_members_messages_are_claimed_not_one_page(bus_redis: redis.Redis, settings: Any) -> None:
    # given: c1 read 250 messages in one go and died
    settings.EVENT_BUS_REDIS_CLAIM_IDLE_MS = 0
    add(bus_redis, "c2", 250)
    RedisStreamConsumer(topic="c2", group="g", consumer="c1").read(count=250, block_ms=10)
    # when: its replacement reads in batches of 20
    claimed = read_all(RedisStreamConsumer(topic="c2", group="g", consumer="c2"), count=20)
    # then
    assert sorted(claimed, key=int) == [str(i).encode() for i in range(250)]
    assert bus_redis.xpending(full_topic("c2"), "g")["pending"] == 0
