"""Sensor and AI-video alarms from the message brokers: ``sanji alarms consume`` feeds
readings from MQTT or NATS JetStream into the perception pipeline; ``sanji alarms simulate``
publishes a realistic day of readings of the demo devices."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import console, err, fail

if TYPE_CHECKING:
    from agents.runtime import Services
    from demo.alarms import SimDevice
    from domain.alarms import AlarmSink

alarms_app = typer.Typer(help="感知告警 (sensor and AI-video alarms)", no_args_is_help=True)

MqttOpt = Annotated[str | None, typer.Option("--mqtt", help="MQTT 地址，如 mqtt://127.0.0.1:1883")]
NatsOpt = Annotated[str | None, typer.Option("--nats", help="NATS 地址，如 nats://127.0.0.1:4222")]
TopicOpt = Annotated[str, typer.Option(help="MQTT 主题前缀（设备编号接在后面）")]
StreamOpt = Annotated[str, typer.Option(help="JetStream 流名称")]
SubjectOpt = Annotated[str, typer.Option(help="NATS 主题（通配）")]


def _one(**given: str | None) -> tuple[str, str]:
    chosen = [(k, v) for k, v in given.items() if v]
    if len(chosen) != 1:
        names = "、".join(f"--{k}" for k in given)
        fail(f"请在 {names} 中指定且只指定一个")
    return chosen[0][0], str(chosen[0][1])


def _check_url(kind: str, url: str) -> None:
    from ingest.mqtt import BadUrl, MqttAddress
    from ingest.nats import check_url

    try:
        if kind == "mqtt":
            MqttAddress.parse(url)
        elif kind == "nats":
            check_url(url)
        elif not url.startswith(("http://", "https://")):
            fail(f"HTTP 地址应形如 http://127.0.0.1:8000/api/v1/alarms，收到「{url}」")
    except BadUrl as e:
        fail(str(e))


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        err.print("正在停止：处理完当前这批读数并确认后退出（再按一次 Ctrl-C 立即退出）…")
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


class _NotYet:
    """The pump's sink and dead letters before the pipeline is built (never called)."""

    def ingest(self, batch: Any) -> Any:
        raise RuntimeError("the pipeline is not built yet")

    def keep(self, letters: Any) -> None:
        raise RuntimeError("the pipeline is not built yet")


def _sink(services: Services) -> AlarmSink:
    sink: AlarmSink = services.perception
    return sink


@alarms_app.command("consume")
def consume(
    mqtt: MqttOpt = None,
    nats: NatsOpt = None,
    topic: TopicOpt = "sanji/readings",
    client_id: Annotated[
        str, typer.Option(help="MQTT 客户端编号（固定不变，服务器据此保留离线期间的消息）")
    ] = "sanji-alarms-consumer",
    stream: StreamOpt = "SANJI_READINGS",
    subject: SubjectOpt = "sanji.readings.>",
    durable: Annotated[str, typer.Option(help="JetStream 持久消费者名称")] = "sanji-alarms",
    dead_letters: Annotated[
        Path | None,
        typer.Option(
            help="无法解析的消息保存到这个文件（默认 数据目录/deadletter/readings.jsonl）"
        ),
    ] = None,
    every: Annotated[float, typer.Option(help="每隔多少秒打印一次计数")] = 10.0,
) -> None:
    """从 MQTT 或 NATS JetStream 接收读数，送入感知管道（按 Ctrl-C 停止）。"""
    from cli.common import services
    from ingest.mqtt import MqttConsumer
    from ingest.nats import NatsConsumer
    from ingest.pump import Pump
    from ingest.wire import JsonlDeadLetters, StoreDeadLetters

    kind, url = _one(mqtt=mqtt, nats=nats)
    _check_url(kind, url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    stop = _stop_on_signals()
    # the pump gets its sink once the pipeline is built; an MQTT consumer connects first, so
    # the broker keeps delivering to this session (into the inbox, unacknowledged) meanwhile
    pump = Pump(_NotYet(), _NotYet(), kind, stop=stop)
    consumer: MqttConsumer | NatsConsumer
    if kind == "mqtt":
        consumer = MqttConsumer(url, pump, topic=f"{topic}/#", client_id=client_id)
        consumer.connect()
    else:
        consumer = NatsConsumer(url, pump, stream=stream, subject=subject, durable=durable)
    try:
        err.print("正在准备感知管道…")
        with services() as built:
            pump.sink = _sink(built)
            pump.dead_letters = (
                JsonlDeadLetters(dead_letters) if dead_letters else StoreDeadLetters(built.store)
            )
            console.print(f"开始接收读数（{kind} {url}），按 Ctrl-C 停止")

            def report() -> None:
                last = 0
                while not stop.wait(every):
                    if pump.counts.readings != last:
                        last = pump.counts.readings
                        console.print(pump.counts.summary(), soft_wrap=True)

            threading.Thread(target=report, daemon=True).start()
            try:
                consumer.run(stop)
            finally:
                console.print(f"已停止。{pump.counts.summary()}", soft_wrap=True)
    finally:
        if isinstance(consumer, MqttConsumer):
            consumer.close()  # when building the pipeline failed; run() closes it otherwise


def _devices(folder: Path | None) -> list[SimDevice]:
    from demo.alarms import SimDevice, load_devices
    from knowledge import default_knowledge

    if folder is not None:
        if not folder.is_dir():
            fail(f"设备登记目录不存在：{folder}")
        return load_devices(folder)
    k = default_knowledge()
    return [SimDevice.of(d.model_dump()) for d in k.sensing.devices.values()]


@alarms_app.command("simulate")
def simulate(
    mqtt: MqttOpt = None,
    nats: NatsOpt = None,
    http: Annotated[
        str | None, typer.Option("--http", help="HTTP 接口，如 http://127.0.0.1:8000/api/v1/alarms")
    ] = None,
    day: Annotated[str, typer.Option(help="模拟哪一天（北京时间），如 2026-07-15")] = "2026-07-15",
    speed: Annotated[
        float, typer.Option(help="时间加速倍数：60 表示一分钟播放一小时；0 表示不等待")
    ] = 0.0,
    rate: Annotated[float, typer.Option(help="每秒最多发送多少个读数；0 表示不限")] = 0.0,
    batch: Annotated[int, typer.Option(help="每条消息携带几个读数（大于 1 时为 JSON 数组）")] = 1,
    seed: Annotated[int, typer.Option(help="随机种子（同一天同一种子，消息编号相同）")] = 7,
    devices: Annotated[
        Path | None, typer.Option(help="设备登记目录（默认知识库的 devices/）")
    ] = None,
    start: Annotated[str, typer.Option("--from", help="从几点开始，如 14:00")] = "00:00",
    end: Annotated[str, typer.Option("--to", help="到几点为止，如 18:00")] = "24:00",
    topic: TopicOpt = "sanji/readings",
    stream: StreamOpt = "SANJI_READINGS",
    subject: SubjectOpt = "sanji.readings.>",
    api_key: Annotated[
        str | None, typer.Option(envvar="SANJI_API_KEY", help="HTTP 接口的 API Key")
    ] = None,
) -> None:
    """发布一天的模拟读数：午后暴雨、夜间渣土车、传感器离线、解放碑晚间人流聚集。"""
    from demo.alarms import simulate_day
    from ingest.publish import paced, publish_http, publish_mqtt, publish_nats
    from knowledge import default_knowledge

    kind, url = _one(mqtt=mqtt, nats=nats, http=http)
    _check_url(kind, url)
    try:
        which = date.fromisoformat(day)
    except ValueError:
        fail(f"日期应形如 2026-07-15，收到「{day}」")
    window = [_hour(start, "--from"), _hour(end, "--to")]
    if batch < 1 or speed < 0 or rate < 0:
        fail("--batch 至少为 1，--speed 和 --rate 不能为负数")
    found = _devices(devices)
    if not found:
        fail("没有找到任何设备登记（knowledge/data/devices/*.yaml）")
    readings = [
        r
        for r in simulate_day(found, which, seed=seed, knowledge=default_knowledge())
        if window[0] <= _hours_of(r.observed_at, which) < window[1]
    ]
    console.print(
        f"{which} 共 {len(found)} 台设备、{len(readings)} 个读数，发往 {kind} {url}"
        + (f"（{speed:g} 倍速）" if speed else "")
    )
    stop = _stop_on_signals()
    messages = paced(readings, batch=batch, speed=speed, rate=rate, stop=stop)
    step = max(len(readings) // 20, 1)
    shown = [0]

    def progress(n: int) -> None:
        if n - shown[0] >= step:
            shown[0] = n
            console.print(f"已发送 {n}/{len(readings)} 个读数")

    try:
        if kind == "mqtt":
            sent = publish_mqtt(url, messages, prefix=topic, progress=progress)
        elif kind == "nats":
            sent = publish_nats(url, messages, stream=stream, subject=subject, progress=progress)
        else:
            sent = publish_http(url, messages, api_key=api_key, progress=progress)
    except (ConnectionError, OSError) as e:
        fail(f"发送中断：{e}")
    console.print(f"完成：已发送 {sent} 个读数" + ("（已中途停止）" if stop.is_set() else ""))


def _hour(text: str, option: str) -> float:
    hh, _, mm = text.partition(":")
    try:
        value = int(hh) + int(mm or 0) / 60
    except ValueError:
        fail(f"{option} 应形如 14:00，收到「{text}」")
    if not 0 <= value <= 24:
        fail(f"{option} 应在 00:00 到 24:00 之间")
    return value


def _hours_of(at: Any, day: date) -> float:
    from datetime import datetime, time

    from domain.clock import CHINA_TZ

    start = datetime.combine(day, time(0, 0), CHINA_TZ)
    return float((at - start).total_seconds() / 3600)
