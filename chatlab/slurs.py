"""The one list of slurs and self-harm taunts: the chat filter drops training messages with them
(`chat_clean`, rule blocklist) and the generation guardrails refuse outputs with them. Settings
add to it ([chat.clean] blocklist / blocklist_extra, [train] banned_words); none removes from it."""

SLURS: tuple[str, ...] = (
    "kys", "kill yourself", "neck yourself", "faggot", "fag", "nigger", "nigga", "retard", "retarded",
    "tranny", "chink", "spic", "kike", "wetback", "coon", "dyke", "cunt",
)
