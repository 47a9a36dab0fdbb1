"""What the web process loads: the HTTP client stays out until something in it sends a request
(an alert webhook, an OpenID Connect exchange), so an installation without them does not carry
it in every web worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from bridge.storage.db import make_engine
from bridge.storage.migrate import upgrade
from tests.sandbox import config_toml


def test_the_web_process_serves_the_sign_in_page_without_loading_an_http_client(
    tmp_path: Path, embedded_redis: Any
) -> None:
    database_url = f"sqlite:///{tmp_path}/web.db"
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    cfg = tmp_path / "lockerbridge.toml"
    cfg.write_text(config_toml(database_url, embedded_redis.url, 1, "w" * 40), encoding="utf-8")
    code = (
        "import sys\n"
        "from bridge.web.app import create_app\n"
        "from bridge.config import load_settings\n"
        f"app = create_app(load_settings({str(cfg)!r}))\n"
        "for path in ('/staff/login', '/staff/'):\n"
        "    print(app.test_client().get(path).status_code)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'requests', 'urllib3'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["200", "302", "[]"], done.stderr[-2000:]
