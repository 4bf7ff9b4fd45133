"""W&B set-up: which mode a run uses, where W&B writes, and opening a run of this study.

Offline unless an API key is configured (`tracker.mode=auto`); runs land in
`<study folder>/wandb` unless `WANDB_DIR` is set, and W&B's config, cache and data folders go
there too (keeps $HOME clean). wandb itself is imported only here, lazily (`import_wandb`),
with an install hint when it is missing.
"""

from __future__ import annotations

import json
import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sweep.config import SweepConfig, TrackerConfig
from sweep.errors import ConfigError, Problem

WANDB_INSTALL_HINT = "pip install 'wandb>=0.19' (or choose tracker=none)"
WANDB_DIR_ENVS = ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR")


def api_key_configured(env: dict[str, str] | None = None) -> bool:
    """True when W&B has an API key: `WANDB_API_KEY`, or a netrc entry for the W&B host."""
    env = os.environ if env is None else env
    if env.get("WANDB_API_KEY"):
        return True
    host = urlsplit(env.get("WANDB_BASE_URL") or "https://api.wandb.ai").netloc
    if env.get("NETRC"):
        paths = [Path(env["NETRC"]).expanduser()]
    else:
        paths = [Path("~/.netrc").expanduser(), Path("~/_netrc").expanduser()]
    for path in paths:
        if not path.is_file():
            continue
        try:
            creds = netrc.netrc(str(path)).authenticators(host)
        except (OSError, netrc.NetrcParseError):
            return False  # W&B itself would warn and run without a key
        return bool(creds and creds[2])
    return False


def resolve_mode(tracker: TrackerConfig, env: dict[str, str] | None = None) -> str:
    """The W&B mode a run uses: `online`, `offline` or `disabled`.

    `auto` honours an explicit `WANDB_MODE`; otherwise it goes online only when an API key is
    configured, so a sweep never stops to ask for a login or fails without network.
    """
    env = os.environ if env is None else env
    if tracker.mode != "auto":
        return tracker.mode
    wanted = env.get("WANDB_MODE", "").strip().lower()
    if wanted in ("offline", "dryrun"):
        return "offline"
    if wanted == "disabled":
        return "disabled"
    if wanted in ("online", "run"):
        return "online"
    return "online" if api_key_configured(env) else "offline"


def wandb_dir(cfg: SweepConfig) -> Path:
    """Where W&B writes: `$WANDB_DIR` if the user set it, else `<study folder>/wandb`."""
    user = os.environ.get("WANDB_DIR")
    if user:
        return Path(user).expanduser()
    return cfg.study_dir / "wandb"


def offline_runs(cfg: SweepConfig) -> list[Path]:
    """The study's offline W&B run folders (what `wandb sync` uploads)."""
    root = wandb_dir(cfg) / "wandb"
    return sorted(root.glob("offline-run-*")) if root.is_dir() else []


# Which WANDB_*_DIR values this module chose. Kept in the environment (not a global) because
# the Ray executor forwards SWEEP_* and WANDB_* variables to its workers: a worker must tell
# our choice for an earlier study (to be moved) from the user's own setting (to be kept).
AUTO_DIRS_ENV = "SWEEP_WANDB_AUTO_DIRS"


def _auto_dirs() -> dict[str, str]:
    try:
        value = json.loads(os.environ.get(AUTO_DIRS_ENV) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def wandb_environment(cfg: SweepConfig) -> Path:
    """Point W&B's config, cache and data folders into the study's W&B folder.

    Keeps $HOME clean. Variables the user set are left alone; ones this module set for an
    earlier study in the same process are moved to the current one.
    """
    root = wandb_dir(cfg)
    auto = _auto_dirs()
    for name in WANDB_DIR_ENVS:
        current = os.environ.get(name)
        if current is None or auto.get(name) == current:
            value = str(root / name[len("WANDB_"):-len("_DIR")].lower())
            os.environ[name] = auto[name] = value
    os.environ[AUTO_DIRS_ENV] = json.dumps(auto)
    root.mkdir(parents=True, exist_ok=True)
    return root


def import_wandb() -> Any:
    try:
        import wandb
    except ImportError:
        raise ConfigError(Problem("tracker", "wandb", f"wandb is not installed: {WANDB_INSTALL_HINT}")) from None
    return wandb


def init_wandb_run(cfg: SweepConfig, wandb: Any, *, job_type: str, name: str,
                   config: dict[str, Any]) -> Any:
    """A new W&B run of this study (never reuses or finishes a run the user has open)."""
    root = wandb_environment(cfg)
    t = cfg.tracker
    return wandb.init(
        project=t.project, entity=t.entity, group=cfg.study_name, job_type=job_type, name=name,
        config=config, dir=str(root), mode=resolve_mode(t), reinit="create_new",
        settings=wandb.Settings(silent=True, console="off", save_code=False))
