"""``python -m linkflow.stripe_emulator [--host H] [--port P] [--parent-pid PID]``: the emulator
alone, in the foreground (the local stack runs it so, in its own process)."""

from __future__ import annotations

import argparse

from .server import PortInUseError, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m linkflow.stripe_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process (the one that started the emulator) is gone")
    args = parser.parse_args(argv)
    try:
        run(args.host, args.port, parent_pid=args.parent_pid)
    except PortInUseError as exc:
        parser.exit(1, f"{exc.strerror or exc}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
