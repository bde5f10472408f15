"""Runs ``replication.cli`` with every thread under cProfile (plain ``-m cProfile`` sees only the
main thread, while the binlog reader and the apply workers run in their own).

    python -m bench.profile_runner OUT.prof src|dest --job-config ... --redis ...

Each thread's profile is merged into ``OUT.prof`` when the process exits (SIGTERM stops the
runner cleanly, so the file is written).
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
from typing import Any

from replication import cli

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _profiled_run(original: Any) -> Any:
    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        with _lock:
            _profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()
    return run


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    threading.Thread.run = _profiled_run(threading.Thread.run)  # type: ignore[method-assign]
    main_profile = cProfile.Profile()
    main_profile.enable()
    try:
        return cli.main(argv)
    finally:
        main_profile.disable()
        stats = pstats.Stats(main_profile)
        with _lock:
            for profile in _profiles:
                try:
                    stats.add(profile)
                except TypeError:  # a thread that never ran any Python code
                    continue
        stats.dump_stats(out)


if __name__ == "__main__":
    sys.exit(main())
