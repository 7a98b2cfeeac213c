"""A backend written against docs/kafka-contract.md only, with a plain Kafka client (confluent-kafka).

It serves the service named on the command line: for every device message it reads from <prefix>.up.<service>,
it sends the device a reply on <prefix>.down describing exactly what it received (key, headers, raw value), so a
test on the device side can check the contract end to end. It commits offsets only after its replies are delivered.

Usage: backend.py --bootstrap HOST:PORT [--prefix cg] [--service contract]
Prints "backend ready" once the consumer group has assigned it partitions.
"""
import argparse
import json
import sys

from confluent_kafka import Consumer, Producer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", default="cg")
    parser.add_argument("--service", default="contract")
    args = parser.parse_args()

    up = f"{args.prefix}.up.{args.service}"
    down = f"{args.prefix}.down"
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": f"{args.prefix}-{args.service}-backend",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # Tansu answers a fetch when the wait runs out and joins groups quickly only with a short poll interval.
        "fetch.wait.max.ms": 5,
        "max.poll.interval.ms": 10000,
        "session.timeout.ms": 6000,
    })
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
    })

    def on_assign(c, partitions):
        print("backend ready", flush=True)

    consumer.subscribe([up], on_assign=on_assign)
    failures = []

    def delivered(err, msg):
        if err is not None:
            failures.append(err)

    while True:
        records = consumer.consume(num_messages=100, timeout=0.1)
        if not records:
            continue
        for record in records:
            if record.error():
                print(f"consume error: {record.error()}", file=sys.stderr, flush=True)
                continue
            headers = {name: value.decode("utf-8", "replace") for name, value in (record.headers() or [])}
            device = headers.get("device")
            message_id = headers.get("id")
            if device is None or message_id is None:
                print(f"record without device or id header at offset {record.offset()}", file=sys.stderr, flush=True)
                continue
            report = {
                "key": record.key().decode() if record.key() is not None else None,
                "headers": headers,
                "value": record.value().decode("utf-8", "replace"),
                "topic": record.topic(),
            }
            producer.produce(
                down,
                key=device.encode(),
                value=json.dumps(report).encode(),
                headers=[
                    ("device", device.encode()),
                    ("service", args.service.encode()),
                    ("id", f"{args.service}-{message_id}".encode()),
                    ("content-type", b"application/json"),
                    ("in-reply-to", message_id.encode()),
                ],
                on_delivery=delivered,
            )
        producer.flush(10)
        if failures:
            print(f"replies not delivered: {failures}; not committing", file=sys.stderr, flush=True)
            failures.clear()
            continue
        consumer.commit(asynchronous=False)


if __name__ == "__main__":
    main()
