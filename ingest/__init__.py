"""Perception's way in from the message brokers: consumers that take readings from MQTT
(``ingest.mqtt``) and NATS JetStream (``ingest.nats``), hand them in batches to an
:class:`domain.alarms.AlarmSink`, and acknowledge each message only after the sink returned.
An entry-point room like ``api/``: it may import ``agents`` and everything below."""
