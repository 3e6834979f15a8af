"""``ttm-emulator``: serve the emulator on loopback until interrupted, printing how to connect."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from airflow_provider_ttm.emulator.config import DEFAULT_API_KEY, ID_SPELLINGS, EmulatorConfig, parse_duration
from airflow_provider_ttm.emulator.faults import FaultRule
from airflow_provider_ttm.emulator.server import EmulatorServer


def _duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"not a rate between 0 and 1: {value!r}")
    return rate


def _alias(value: str) -> tuple[str, str]:
    key, _, account = value.partition("=")
    if not key or not account:
        raise argparse.ArgumentTypeError("an alias is NEW=OLD, two API keys")
    return key, account


def _fault(value: str) -> FaultRule:
    try:
        data: Any = json.loads(value)
        if not isinstance(data, dict):
            raise ValueError("a fault rule is a JSON object")
        return FaultRule.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"bad fault rule {value!r}: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    """The command line parser of ``ttm-emulator``."""
    parser = argparse.ArgumentParser(
        prog="ttm-emulator",
        description="Serve an emulator of the Tune The Model API for offline DAG runs and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        help=f"an accepted API key; repeatable (default: {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--api-key-alias",
        dest="api_key_aliases",
        type=_alias,
        action="append",
        default=[],
        help="NEW=OLD: key NEW (also given with --api-key) opens the account of key OLD; repeatable",
    )
    parser.add_argument(
        "--auto-train",
        type=_duration,
        default=None,
        help="a bare created model becomes Ready by itself after this long (default: it stays Created)",
    )
    parser.add_argument(
        "--train-duration", type=_duration, default=1.0, help="how long a fit takes (default: 1s)"
    )
    parser.add_argument(
        "--file-processing",
        type=_duration,
        default=0.2,
        help="how long an upload takes to process (default: 0.2s)",
    )
    parser.add_argument(
        "--fit-failure-rate", type=_rate, default=0.0, help="share of fits that fail (default: 0)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of all random draws (default: 0)")
    parser.add_argument("--id-spelling", choices=ID_SPELLINGS, default="both", help="model id keys to send")
    parser.add_argument(
        "--fault",
        dest="faults",
        type=_fault,
        action="append",
        default=[],
        help='a fault rule as JSON, e.g. \'{"route": "POST /v0/models", "kind": "error", "times": 1}\'; repeatable',
    )
    parser.add_argument("--ssl-certfile", help="serve HTTPS with this PEM certificate")
    parser.add_argument("--ssl-keyfile", help="the certificate's private key")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGINT or SIGTERM; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = EmulatorConfig(
            api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
            api_key_aliases=dict(args.api_key_aliases),
            host=args.host,
            port=args.port,
            train_seconds=args.train_duration,
            auto_train_seconds=args.auto_train,
            file_processing_seconds=args.file_processing,
            fit_failure_rate=args.fit_failure_rate,
            seed=args.seed,
            id_spelling=args.id_spelling,
            faults=tuple(args.faults),
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            log_level=args.log_level,
        )
    except ValueError as exc:
        print(f"ttm-emulator: error: {exc}", file=sys.stderr)
        return 2
    try:
        server = EmulatorServer(config).start()
    except OSError as exc:
        print(f"ttm-emulator: error: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with server:
        print(f"TTM API emulator serving on {server.url} (Ctrl+C to stop)", flush=True)
        print(f"AIRFLOW_CONN_TTM_DEFAULT={shlex.quote(server.conn_json)}", flush=True)
        stop.wait()
    return 0
