"""Chat import (pure library, no Dagster): every common Twitch chat export, normalized,
cleaned and anonymized. ``parse_file`` -> ``clean`` -> ``privacy`` (see each module)."""

from chatlab.chat.detect import ChatFormatError
from chatlab.chat.parse import ChatParse, parse_file

__all__ = ["ChatFormatError", "ChatParse", "parse_file"]
