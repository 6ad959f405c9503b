"""Domain errors raised by the store; handlers decide what each means over HTTP."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every domain error."""


class StartupRefused(StoreError):
    """The database server (or a pooler before it) refused to connect with the server's
    startup parameters: the message says what to change."""


class UserNotFound(StoreError, LookupError):
    pass


class OrgNotFound(StoreError, LookupError):
    pass


class TeamNotFound(StoreError, LookupError):
    pass


class DashboardNotFound(StoreError, LookupError):
    pass


class TokenNotFound(StoreError, LookupError):
    pass


class ServiceAccountNotFound(StoreError, LookupError):
    pass


class NotAMember(StoreError, LookupError):
    pass


class LoginConflict(StoreError, ValueError):
    """Another user already has this login or email (compared case-insensitively)."""


class NameTaken(StoreError, ValueError):
    pass


class AlreadyMember(StoreError, ValueError):
    pass


class LastAdmin(StoreError, ValueError):
    pass


class PatternTooLong(StoreError, ValueError):
    """A search pattern beyond what the database can evaluate (SQLite's LIKE limit)."""
