"""Helpers of the whatsapp addon without the ORM (Meta's Graph API client, Meta's rules and payloads,
parsers), unit-tested with pytest in the repository's ``tests/``."""
