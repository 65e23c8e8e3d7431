"""Console entry point: make the process cooperative (gevent, psycopg2 waits) before anything else
imports socket or threading, then run the CLI. ``fs_app/__init__.py`` stays empty for this."""
from gevent import monkey

monkey.patch_all()

import psycogreen.gevent  # noqa: E402

psycogreen.gevent.patch_psycopg()


def main() -> int:
    from fs_app.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
