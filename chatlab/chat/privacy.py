"""User pseudonyms: a salted hash per user, the same across VODs of one project, useless elsewhere.

The salt is created once per project (``<data dir>/salt``, 32 random bytes as hex) and never
leaves it; without it the hash of a public user name cannot be recomputed. Raw names stay
only in the private ``chat`` table; everything derived carries ``user_hash`` and text where
``@mentions`` are replaced by ``@user``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import polars as pl

SALT_FILE = "salt"
HASH_LEN = 16
MENTION_RE = r"@[A-Za-z0-9_]{2,25}"


def load_salt(data_dir: Path) -> str:
    """The project's salt, created on first use (atomically: two processes agree on one salt)."""
    path = Path(data_dir) / SALT_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a private name, then linked into place: the link fails if another
        # process won, and nobody (nor a kill) can ever leave or read a half-written salt.
        tmp = path.with_name(f".{SALT_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    salt = path.read_text().strip()
    if len(salt) < 16:
        raise ValueError(f"{path}: the salt is too short or empty; delete the file to make a new one (user hashes will change)")
    return salt


def user_hash(login: str, salt: str) -> str:
    return hashlib.blake2b(login.lower().encode("utf-8"), key=salt.encode()[:64], digest_size=HASH_LEN // 2).hexdigest()


def hash_users(df: pl.DataFrame, salt: str, login: str = "user_login", user: str = "user") -> pl.Series:
    """user_hash for each row: the salted hash of the login (or of the display name when no login);
    hashed once per distinct user, so a million messages cost a few thousand hashes."""
    key = pl.coalesce(pl.col(login), pl.col(user).str.to_lowercase()) if login in df.columns else pl.col(user).str.to_lowercase()
    keys = df.select(key.alias("k"))["k"]
    uniq = keys.drop_nulls().unique()
    mapping = {k: user_hash(k, salt) for k in uniq.to_list()}
    return keys.replace_strict(mapping, default=None, return_dtype=pl.String).alias("user_hash")


def anonymize_text(text: pl.Expr) -> pl.Expr:
    """@mentions name other users: replaced by @user before text leaves the private table."""
    return text.str.replace_all(MENTION_RE, "@user")
