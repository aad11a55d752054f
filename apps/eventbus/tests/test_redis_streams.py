from __future__ import annotations

from typing import Any

import redis

from apps.eventbus.buses.redis_streams import RedisStreamConsumer, full_topic


def add(client: redis.Redis, topic: str, n: int) -> None:
    for i in range(n):
        client.xadd(full_topic(topic), {b"id": f"id-{i}".encode(), b"type": b"t", b"event_data": bytes([i])})


def test_a_new_group_reads_from_the_beginning(bus_redis: redis.Redis) -> None:
    # given: events produced before the consumer ever started
    add(bus_redis, "t1", 3)
    consumer = RedisStreamConsumer(topic="t1", group="g", consumer="c1")
    # when
    messages = consumer.read(count=10, block_ms=10)
    # then
    assert [m.payload for m in messages] == [b"\x00", b"\x01", b"\x02"]
    assert messages[0].headers == {"id": "id-0", "type": "t"}


def test_unacknowledged_messages_come_back_after_a_restart(bus_redis: redis.Redis) -> None:
    # given: a consumer read two messages and died before acknowledging
    add(bus_redis, "t2", 2)
    RedisStreamConsumer(topic="t2", group="g", consumer="c1").read(count=10, block_ms=10)
    # when: it restarts under the same name
    again = RedisStreamConsumer(topic="t2", group="g", consumer="c1").read(count=10, block_ms=10)
    # then
    assert [m.payload for m in again] == [b"\x00", b"\x01"]


def test_acknowledged_messages_are_not_read_again(bus_redis: redis.Redis) -> None:
    add(bus_redis, "t3", 2)
    consumer = RedisStreamConsumer(topic="t3", group="g", consumer="c1")
    consumer.ack(m.message_id for m in consumer.read(count=10, block_ms=10))
    assert RedisStreamConsumer(topic="t3", group="g", consumer="c1").read(count=10, block_ms=10) == []


def test_rewind_reads_an_uncommitted_batch_again(bus_redis: redis.Redis) -> None:
    add(bus_redis, "t4", 2)
    consumer = RedisStreamConsumer(topic="t4", group="g", consumer="c1")
    first = consumer.read(count=10, block_ms=10)
    consumer.rewind()
    assert [m.message_id for m in consumer.read(count=10, block_ms=10)] == [m.message_id for m in first]


def test_a_dead_consumers_messages_are_claimed_by_another(bus_redis: redis.Redis, settings: Any) -> None:
    # given: consumer c1 read and vanished (a pod replaced under a new name)
    settings.EVENT_BUS_REDIS_CLAIM_IDLE_MS = 0
    add(bus_redis, "t5", 2)
    RedisStreamConsumer(topic="t5", group="g", consumer="c1").read(count=10, block_ms=10)
    # when
    claimed = RedisStreamConsumer(topic="t5", group="g", consumer="c2").read(count=10, block_ms=10)
    # then
    assert [m.payload for m in claimed] == [b"\x00", b"\x01"]
