"""Launcher: python -m standby_emulator --host 127.0.0.1 --port-file F [--pid-file P] [--dir D]

Binds HOST:PORT (PORT 0 = let the kernel pick a free port), then writes the
chosen port to --port-file, so callers never race for a fixed port. --dir is
the instance directory: the RDS CA bundle (D/rds-ca.pem) and the PostgreSQL
server behind Aurora's endpoints (D/pg) live there.
"""

import argparse
import os
import signal
import sys


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(prog="standby_emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--pid-file", help="write this process id here")
    ap.add_argument("--dir", help="instance directory (RDS CA bundle, PostgreSQL)")
    args = ap.parse_args()
    if args.dir:
        os.environ["STANDBY_EMULATOR_DIR"] = args.dir

    if args.pid_file:
        _write_atomic(args.pid_file, f"{os.getpid()}\n")

    # AWS-managed policy ARNs (arn:aws:iam::aws:policy/...) exist in AWS, so
    # make them exist here too; costs ~0.3 s once. The caller may override.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from .server import EmulatorApp

    app = EmulatorApp()
    from . import aurora_db

    aurora_db.model()  # the RDS CA bundle exists before the port file says we listen
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    port = server.server_port
    # moto builds some self-referencing URLs from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)

    def _stop(signum, frame):  # noqa: ARG001
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    if args.port_file:
        _write_atomic(args.port_file, f"{port}\n")
    print(f"standby_emulator: listening on http://{args.host}:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
