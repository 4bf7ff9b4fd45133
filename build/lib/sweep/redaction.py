"""What never reaches a tracker run: secrets in config keys, environment values and URLs.

`scrub` makes a mapping fit for a run config (keys named like a secret dropped, values of
secret-named environment variables and URL passwords redacted); `SECRET_ENV_NAME` tells which
environment variables hold secrets (the Ray executor forwards them only where needed).
"""

from __future__ import annotations

import os
import re
from typing import Any

# Environment variables whose values must never reach a run (names like *TOKEN*, *KEY*, ...).
SECRET_ENV_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
# Config keys that name a secret. Word-bounded so `tokens_per_s` or `target_modules` survive.
SECRET_KEY_NAME = re.compile(
    r"(^|[_.-])(api[_-]?key|access[_-]?key|private[_-]?key|token|secret|password|passwd|"
    r"credentials?)($|[_.-])", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
REDACTED = "***"


def secret_values(env: dict[str, str] | None = None) -> list[str]:
    """Values of environment variables named like secrets (long enough to be one)."""
    env = os.environ if env is None else env
    return sorted({v for k, v in env.items() if SECRET_ENV_NAME.search(k) and len(v) >= 6},
                  key=len, reverse=True)


def scrub(values: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """A copy of `values` fit for a run config: no secret keys, no secret values.

    Keys named like a secret are dropped; strings containing the value of a secret-named
    environment variable, or a password inside a URL, are redacted.
    """
    secrets = secret_values(env)

    def clean(v: Any) -> Any:
        if isinstance(v, str):
            v = _URL_PASSWORD.sub(rf"\1{REDACTED}@", v)
            for s in secrets:
                v = v.replace(s, REDACTED)
            return v
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items() if not SECRET_KEY_NAME.search(str(k))}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return clean(dict(values))
