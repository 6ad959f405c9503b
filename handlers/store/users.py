"""Users: profiles, search, updates, passwords, admin flags and failed-login bookkeeping."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    Row,
    ScalarSelect,
    Select,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from handlers.store import fast, paging, schema, search
from handlers.store.db import (
    INT64_MAX,
    Database,
    in_int64,
    new_id,
)
from handlers.store.errors import (
    LastAdmin,
    LoginConflict,
    OrgNotFound,
    PatternTooLong,
    UserNotFound,
)
from handlers.store.models import Page, User
from handlers.store.rows import user_row
from handlers.store.text import go_lower

U = schema.users
SORT_COLUMNS = {
    "login": U.c.login,
    "email": U.c.email,
    "name": U.c.name,
    "lastSeenAtAge": U.c.last_seen_at,
}
# Grafana applies sort options in this fixed priority, whatever order they were given in.
SORT_PRIORITY = ["login", "email", "name", "lastSeenAtAge"]


def to_user(row: Row[Any], labels: Sequence[str] = ()) -> User:
    return user_from(row._mapping, labels)


def user_from(m: Mapping[Any, Any], labels: Sequence[str] = ()) -> User:
    return User(
        id=m["id"],
        uid=m["uid"],
        login=m["login"],
        email=m["email"],
        name=m["name"],
        theme=m["theme"],
        org_id=m["org_id"],
        is_admin=m["is_admin"],
        is_disabled=m["is_disabled"],
        is_service_account=m["is_service_account"],
        created=m["created"],
        updated=m["updated"],
        last_seen_at=m["last_seen_at"],
        password=m.get("password", ""),
        salt=m.get("salt", ""),
        auth_labels=tuple(labels),
    )


def labels_of(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The auth label of each user's most recent external login, like Grafana's authLabels."""
    if not ids:
        return {}
    a = schema.user_auth
    rows = conn.execute(
        select(a.c.user_id, a.c.auth_module).where(a.c.user_id.in_(ids)).order_by(a.c.id)
    ).all()
    return {user_id: (auth_label(module),) for user_id, module in rows}


def auth_labels(module: str | None) -> tuple[str, ...]:
    """The authLabels of a user whose latest external login used `module` (None: none)."""
    return (auth_label(module),) if module is not None else ()


def latest_auth_module(user_id: ColumnElement[int] = U.c.id) -> ScalarSelect[Any]:
    """The module of the user's most recent external login (what `_labels` picks)."""
    a = schema.user_auth
    return (
        select(a.c.auth_module)
        .where(a.c.user_id == user_id)
        .order_by(a.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


@functools.cache
def _prepared(name: str, dialect: Dialect) -> fast.Prepared:
    """The per-request reads, compiled once per dialect (see store/fast.py)."""
    statement: Select[Any]
    if name in ("user_by_id", "account_by_id"):  # users only, or service accounts too
        statement = select(U, latest_auth_module().label("auth_module")).where(
            U.c.id == bindparam("id")
        )
        if name == "user_by_id":
            statement = statement.where(U.c.is_service_account.is_(False))
    elif name == "failures":
        a = schema.login_attempts
        statement = (
            select(func.count())
            .select_from(a)
            .where(a.c.username == bindparam("username"), a.c.created > bindparam("since"))
        )
    else:
        # credentials_(login|email)[_counted]: find_user's lookup, plus the org role (and,
        # counted, the name's failed logins since `since`: one statement, one round trip)
        m = schema.org_users
        value: BindParameter[str] = bindparam("value", type_=String)
        first = U.c.email if name.startswith("credentials_email") else U.c.login
        role = (
            select(m.c.role)
            .where(m.c.user_id == U.c.id, m.c.org_id == U.c.org_id)
            .scalar_subquery()
        )
        columns: list[Any] = [
            U,
            role.label("org_role"),
            latest_auth_module().label("auth_module"),
        ]
        if name.endswith("_counted"):
            a = schema.login_attempts
            counted = (
                select(func.count())
                .select_from(a)
                .where(a.c.username == value, a.c.created > bindparam("since"))
                .scalar_subquery()
            )
            columns.append(counted.label("failures"))
        statement = (
            select(*columns)
            .where(or_(U.c.login == value, U.c.email == value), U.c.is_service_account.is_(False))
            .order_by(case((first == value, 0), else_=1))
            .limit(1)
        )
    return fast.Prepared(dialect, statement)


@functools.lru_cache(maxsize=256)
def _search_statements(
    dialect: Dialect,
    has_query: bool,
    fts: bool,
    trigram: bool,
    sort: tuple[tuple[str, bool], ...],
    fold_unicode: bool = False,
    active: bool = False,
) -> tuple[fast.Prepared, fast.Prepared]:
    """search_users' count and page statements, compiled once per shape: Grafana's filter
    (bound `pattern`), narrowed by the FTS5 index (bound `fts_match`) or, on PostgreSQL,
    by the trigram index's expression (search.trigram_candidates, bound `candidate`), ordered
    by `sort` (already in priority order) or login, email; paged by `limit` and `offset`.
    `active` keeps users seen after the bound `active_since` (Grafana's activeLast30Days)."""
    cond: ColumnElement[bool] = U.c.is_service_account.is_(False)
    if active:
        cond = and_(cond, U.c.last_seen_at > bindparam("active_since", type_=DateTime))
    if has_query:
        pattern: BindParameter[str] = bindparam("pattern", type_=String)
        cond = and_(
            cond,
            or_(
                U.c.login.like(pattern),
                U.c.email.like(pattern),
                # SQLite's lower() folds ASCII only: a non-ASCII query needs Go's folding
                # (store/text.py), a Python function, so only then.
                (func.go_lower(U.c.name) if fold_unicode else func.lower(U.c.name)).like(pattern),
            ),
        )
        if fts:
            cond = and_(search.fts_candidates(), cond)
        if trigram:
            candidate = bindparam("candidate", type_=String)  # search.trigram_pattern
            cond = and_(search.trigram_candidates(candidate), cond)
    order = [SORT_COLUMNS[k].desc() if desc else SORT_COLUMNS[k].asc() for k, desc in sort] or [
        U.c.login.asc(),
        U.c.email.asc(),
    ]
    counting = select(func.count()).select_from(U).where(cond)
    columns: list[Any] = [U, latest_auth_module().label("auth_module")]
    if fts or trigram:
        columns.append(func.count().over().label("total_count"))
    page_query = (
        select(*columns)
        .where(cond)
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return fast.Prepared(dialect, counting), fast.Prepared(dialect, page_query)


# What a search hit needs of a user: not the password hash and salt, nor the columns a User
# does not carry.
_LISTED = [c for c in U.c if c.name not in ("password", "salt", "rands", "company", "version")]
_LISTED = [c for c in _LISTED if c.name != "email_verified"]


@functools.cache
def _listing_statement(dialect: Dialect) -> fast.Prepared:
    """Grafana's page of the whole user list (no filter, ORDER BY login, email), found from
    the counted login ranges (store/paging.py): bound `offset` and `limit`. Each row carries
    the total; no row past the end. The auth label is read for the page's users only (not
    for the rows stepped over)."""
    here = paging.placement(dialect.name)
    page = (
        select(*_LISTED, select(here.c.total).scalar_subquery().label("total_count"))
        .where(
            U.c.is_service_account.is_(False),
            U.c.login >= select(here.c.start_login).scalar_subquery(),
        )
        .order_by(U.c.login.asc(), U.c.email.asc())
        .limit(bindparam("limit", type_=Integer))
        .offset(
            # Past the end `here` has no row: no user is >= NULL, and OFFSET must not be NULL.
            bindparam("offset", type_=Integer)
            - func.coalesce(select(here.c.before).scalar_subquery(), 0)
        )
        .subquery("page")
    )
    statement = select(page, latest_auth_module(page.c.id).label("auth_module")).order_by(
        page.c.login.asc(), page.c.email.asc()
    )
    return fast.Prepared(dialect, statement)


def _lists_everyone(query: str, ranked: tuple[tuple[str, bool], ...], active: bool) -> bool:
    """Whether a search is Grafana's plain list: no filter, in login order."""
    return not query and not active and ranked in ((), (("login", False),))


# SQLite refuses LIKE patterns longer than this many bytes (SQLITE_MAX_LIKE_PATTERN_LENGTH).
SQLITE_LIKE_LIMIT = 50_000
_PERCENT_RUN = re.compile("%{2,}")


def like_pattern(query: str) -> str:
    """Grafana's pattern: the query lower-cased between wildcards. Grafana does not escape
    % and _ in the query: they act as wildcards there too. A run of % matches what one
    does, so runs are collapsed (a shorter pattern, the same matches)."""
    return _PERCENT_RUN.sub("%", f"%{go_lower(query)}%")


def shortest_match(pattern: str) -> int:
    """The fewest characters a value needs to match a LIKE pattern (each literal and each
    _ takes one; % takes any number)."""
    return len(pattern) - pattern.count("%")


_USER_FIELDS = (  # User's first fields, in its order
    "id", "uid", "login", "email", "name", "theme", "org_id", "is_admin", "is_disabled",
    "is_service_account", "created", "updated", "last_seen_at",
)  # fmt: skip


def _users(statement: fast.Prepared, rows: Sequence[fast.Row], *, raw: bool = False) -> list[User]:
    """A search's rows as Users (by position: a page holds up to thousands of them).
    `raw`: rows as the driver gave them, converted here, only the columns a User takes.
    A statement without the password hash and salt gives Users with "" for them."""
    where = {key: i for i, key in enumerate(statement.keys)}
    columns = [where[name] for name in _USER_FIELDS]
    convert = [
        (k, processor)
        for k, i in enumerate(columns)
        if raw and (processor := statement.processors[i]) is not None
    ]
    secrets = [where.get("password"), where.get("salt")]
    module = where["auth_module"]
    items = []
    for row in rows:
        values = [row[i] for i in columns]
        for k, processor in convert:
            if values[k] is not None:
                values[k] = processor(values[k])
        values += ["" if i is None else row[i] for i in secrets]
        label = row[module]
        values.append((auth_label(label),) if label is not None else ())
        # By position: _USER_FIELDS, password, salt, auth_labels is User's field order.
        items.append(User(*values))
    return items


def _priority(item: tuple[str, bool]) -> int:
    return SORT_PRIORITY.index(item[0])


class UserStore:
    db: Database

    # -- reads -------------------------------------------------------------------------

    def get_user(self, user_id: int, *, service_accounts: bool = False) -> User:
        if not in_int64(user_id):
            raise UserNotFound(user_id)
        name = "account_by_id" if service_accounts else "user_by_id"
        prepared = _prepared(name, self.db.engine.dialect)
        with fast.raw_read(self.db) as cursor:
            found = prepared.first(cursor, id=user_id)
        if found is None:
            raise UserNotFound(user_id)
        m = prepared.mapping(found)
        return user_from(m, auth_labels(m["auth_module"]))

    def find_user(self, login_or_email: str) -> User:
        """Exact, case-insensitive; e-mail first when the value contains '@'."""
        user, _, _ = self.credentials(login_or_email, failures_since=None)
        if user is None:
            raise UserNotFound(go_lower(login_or_email))
        return user

    def credentials(
        self, login_or_email: str, *, failures_since: int | None
    ) -> tuple[User | None, str | None, int]:
        """What basic auth needs, in one read: the user find_user would return (or None),
        their role in their active org (None without a membership), and the failed logins
        for this name since `failures_since` (not counted when None). A known name costs one
        statement; only a name without an account is counted on its own."""
        value = go_lower(login_or_email)
        if not self.db.holds(value):
            return None, None, 0  # no account has that name, nor a failure recorded for it
        dialect = self.db.engine.dialect
        name = "credentials_email" if "@" in value else "credentials_login"
        counting = failures_since is not None
        lookup = _prepared(name + "_counted" if counting else name, dialect)
        since = {"since": failures_since} if counting else {}
        # One statement, or two for a name without an account (which need not agree).
        with fast.raw_read(self.db, snapshot=False) as cursor:
            found = lookup.first(cursor, value=value, **since) if value else None
            if found is None:
                failures = 0
                if counting:
                    counted = _prepared("failures", dialect).first(
                        cursor, username=value, since=failures_since
                    )
                    failures = int(counted[0]) if counted else 0
                return None, None, failures
        m = lookup.mapping(found)
        failures = int(m["failures"]) if counting else 0
        return user_from(m, auth_labels(m["auth_module"])), m["org_role"], failures

    def search_users(
        self,
        *,
        query: str,
        page: int,
        per_page: int,
        sort: Sequence[tuple[str, bool]] = (),
        use_index: bool = True,
        active_since: datetime | None = None,
    ) -> Page[User]:
        """Case-insensitive substring search over login, email and name (of users seen
        after `active_since`, when given).

        The FTS5 trigram index (SQLite) or the pg_trgm index (PostgreSQL) narrows the
        candidates where it helps (see store/search.py); `use_index=False` gives Grafana's
        plain predicate alone."""
        # Grafana orders by the keys in a fixed priority, repeats kept; a repeated key
        # orders nothing further, so only its first occurrence reaches the SQL (which
        # allows a limited number of ORDER BY terms).
        ranked_keys: dict[str, tuple[str, bool]] = {}
        for key, desc in sorted(sort, key=_priority):
            ranked_keys.setdefault(key, (key, desc))
        ranked = tuple(ranked_keys.values())
        dialect = self.db.engine.dialect
        pattern = like_pattern(query)
        if not self.db.holds(query):
            return Page(items=[], total_count=0, page=page, per_page=per_page)
        if query and dialect.name == "sqlite" and len(pattern.encode()) > SQLITE_LIKE_LIMIT:
            if shortest_match(pattern) > self._longest_text():
                # What the database would answer, could it run the query.
                return Page(items=[], total_count=0, page=page, per_page=per_page)
            raise PatternTooLong(len(query))
        fts = bool(query) and use_index and self.db.fts and search.fts_can_answer(query)
        trigram = (
            bool(query)
            and use_index
            and dialect.name == "postgresql"
            and search.trigram_can_help(query)
        )
        offset = per_page * (page - 1)
        limit = min(per_page, INT64_MAX)
        if _lists_everyone(query, ranked, active_since is not None):
            return self._list_page(page, per_page, offset, limit)
        fold_unicode = dialect.name == "sqlite" and not query.isascii()
        counting, page_query = _search_statements(
            dialect, bool(query), fts, trigram, ranked, fold_unicode, active_since is not None
        )
        values: dict[str, Any] = {"pattern": pattern} if query else {}
        if active_since is not None:
            values["active_since"] = active_since
        if fts:
            values["fts_match"] = search.fts_match(query)
        if trigram:
            values["candidate"] = search.trigram_pattern(pattern)
        with fast.raw_read(self.db) as cursor:
            if fts or trigram:
                # Narrowed by an index: the page carries the total (count(*) OVER ()), one
                # pass over the few matches. Only a page past the end, having no row to
                # carry it, needs the count query.
                rows = (
                    page_query.all(cursor, **values, limit=limit, offset=offset)
                    if offset <= INT64_MAX  # beyond, no page can exist (nor be bound)
                    else []
                )
                if rows:
                    total = int(page_query.mapping(rows[0])["total_count"])
                elif offset == 0:
                    total = 0
                else:
                    counted = counting.first(cursor, **values)
                    total = int(counted[0]) if counted else 0
            else:
                # A scan: counting reads every row anyway, but the page can stop early
                # (walking the login index), which a window count would prevent.
                counted = counting.first(cursor, **values)
                total = int(counted[0]) if counted else 0
                rows = (
                    page_query.all(cursor, **values, limit=limit, offset=offset)
                    if offset < total
                    else []
                )
        return Page(items=_users(page_query, rows), total_count=total, page=page, per_page=per_page)

    def _list_page(self, page: int, per_page: int, offset: int, limit: int) -> Page[User]:
        """A page of everyone in login order, at any offset for the cost of the first
        (store/paging.py); Grafana's page and total, from one snapshot."""
        listing = _listing_statement(self.db.engine.dialect)
        rows: list[fast.Row] = []
        with fast.raw_read(self.db) as cursor:
            if self.db.dialect == "sqlite":
                with paging.one_snapshot(cursor):
                    rows, total = self._sqlite_list_page(cursor, listing, offset, limit)
            else:
                if offset < INT64_MAX:
                    rows = listing.all(cursor, offset=offset, limit=limit)
                if rows:
                    total = int(listing.mapping(rows[0])["total_count"])
                else:  # past the end: nothing carries the total
                    cursor.execute(paging.total_sql())
                    total = int(cursor.fetchone()[0])
        items = _users(listing, rows, raw=self.db.dialect == "sqlite")
        return Page(items=items, total_count=total, page=page, per_page=per_page)

    @staticmethod
    def _sqlite_list_page(
        cursor: Any, listing: fast.Prepared, offset: int, limit: int
    ) -> tuple[list[fast.Row], int]:
        here, total = paging.locate(cursor, offset)
        if here is None:
            return [], total
        # Converted by _users: only what a User takes (a tenth of a page's time).
        return listing.unconverted(cursor, offset=offset, limit=limit, **here), total

    def _longest_text(self) -> int:
        """The length of the longest login, e-mail or name stored."""
        with self.db.read() as conn:
            lengths = conn.execute(
                select(
                    func.max(func.length(U.c.login)),
                    func.max(func.length(U.c.email)),
                    func.max(func.length(U.c.name)),
                )
            ).one()
        return max((n or 0) for n in lengths)

    def user_id_by_uid(self, uid: str) -> int:
        """The id of the user (not service account) with this uid; UserNotFound if none."""
        with self.db.read() as conn:
            found = conn.execute(
                select(U.c.id).where(U.c.uid == uid, U.c.is_service_account.is_(False))
            ).scalar()
        if found is None:
            raise UserNotFound(uid)
        return int(found)

    def is_external(self, user_id: int) -> bool:
        with self.db.read() as conn:
            return bool(self._labels(conn, [user_id]))

    def _labels(self, conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        return labels_of(conn, ids)

    # -- writes ------------------------------------------------------------------------

    def create_user(
        self,
        *,
        login: str,
        email: str,
        name: str,
        password_hash: str,
        salt: str,
        org_id: int | None = None,
        is_admin: bool = False,
        service_account: bool = False,
        role: str = "Viewer",
    ) -> User:
        now = self.db.clock.now()
        login, email = go_lower(login or email), go_lower(email or login)
        with self.db.write() as conn:
            # As Grafana's GetIDForNewUser: the org asked for, else auto_assign_org_id (1),
            # must exist; once org 1 is deleted, a user created without an org is refused
            # (it is not recreated, nor is the user left in an org that is gone).
            target_org = org_id or 1
            if (
                not in_int64(target_org)
                or conn.execute(
                    select(schema.orgs.c.id).where(schema.orgs.c.id == target_org)
                ).first()
                is None
            ):
                raise OrgNotFound(target_org)
            if self._conflicts(conn, login, email):
                raise LoginConflict(login)
            values = user_row(
                login=login,
                email=email,
                name=name,
                password_hash=password_hash,
                salt=salt,
                org_id=target_org,
                now=now,
                is_admin=is_admin,
                service_account=service_account,
            )
            try:
                user_id = new_id(conn.execute(insert(U).values(**values)))
            except IntegrityError:
                raise LoginConflict(login) from None
            conn.execute(
                insert(schema.org_users).values(
                    org_id=target_org, user_id=user_id, role=role, created=now, updated=now
                )
            )
            created = to_user(conn.execute(select(U).where(U.c.id == user_id)).one())
            untidy = [] if service_account else paging.untidy(conn, [login])
        paging.tidy(self.db, untidy)
        return created

    def create_users(self, users: Sequence[Mapping[str, Any]]) -> list[int]:
        """Many users in one transaction, each as create_user makes it (keys: login, email,
        name, password_hash, salt, org_id, role; optional is_admin, is_disabled); their ids
        in order. LoginConflict, and nothing written, when any login or e-mail is taken.
        One statement per table instead of several per user: the fake Grafana's seeding."""
        now = self.db.clock.now()
        rows = [
            user_row(
                login=go_lower(u["login"] or u["email"]),
                email=go_lower(u["email"] or u["login"]),
                name=u["name"],
                password_hash=u["password_hash"],
                salt=u["salt"],
                org_id=u["org_id"],
                now=now,
                is_admin=bool(u.get("is_admin")),
                is_disabled=bool(u.get("is_disabled")),
            )
            for u in users
        ]
        if not rows:
            return []
        logins, emails = [r["login"] for r in rows], [r["email"] for r in rows]
        with self.db.write() as conn:
            taken = conn.execute(
                select(U.c.login).where(or_(U.c.login.in_(logins), U.c.email.in_(emails)))
            ).first()
            if taken is not None or len(set(logins)) < len(rows) or len(set(emails)) < len(rows):
                raise LoginConflict(taken.login if taken is not None else "")
            try:
                conn.execute(insert(U), rows)
            except IntegrityError:
                raise LoginConflict("") from None
            ids = dict(conn.execute(select(U.c.login, U.c.id).where(U.c.login.in_(logins))).all())
            conn.execute(
                insert(schema.org_users),
                [
                    {
                        "org_id": u["org_id"],
                        "user_id": ids[r["login"]],
                        "role": u["role"],
                        "created": now,
                        "updated": now,
                    }
                    for u, r in zip(users, rows, strict=True)
                ],
            )
            untidy = paging.untidy(conn, logins if len(logins) <= 100 else None)
        paging.tidy(self.db, untidy)
        return [int(ids[login]) for login in logins]

    def _conflicts(
        self, conn: Connection, login: str, email: str, exclude: int | None = None
    ) -> bool:
        """Grafana's rule: a login conflicts with another user's login, an e-mail with
        another user's e-mail (one's login may be another's e-mail). The unique indexes
        hold the same rule, so two writers racing past this check still cannot both win."""
        cond = or_(U.c.login == login, U.c.email == email)
        if exclude is not None:
            cond = and_(cond, U.c.id != exclude)
        return conn.execute(select(U.c.id).where(cond).limit(1)).first() is not None

    def update_user(self, user_id: int, *, login: str, email: str, name: str, theme: str) -> None:
        """Write the non-empty fields; login and email are stored lower-cased."""
        changes: dict[str, Any] = {
            key: value
            for key, value in {
                "login": go_lower(login),
                "email": go_lower(email),
                "name": name,
                "theme": theme,
            }.items()
            if value
        }
        with self.db.write() as conn:
            current = (
                conn.execute(
                    select(U).where(U.c.id == user_id, U.c.is_service_account.is_(False))
                ).first()
                if in_int64(user_id)
                else None
            )
            if current is None:
                raise UserNotFound(user_id)
            new_login = changes.get("login", current.login)
            new_email = changes.get("email", current.email)
            if self._conflicts(conn, new_login, new_email, exclude=user_id):
                raise LoginConflict(new_login)
            try:
                conn.execute(
                    update(U)
                    .where(U.c.id == user_id)
                    .values(**changes, updated=self.db.clock.now(), version=U.c.version + 1)
                )
            except IntegrityError:
                raise LoginConflict(new_login) from None
            untidy = (
                paging.untidy(conn, [current.login, new_login])
                if new_login != current.login
                else []
            )
        paging.tidy(self.db, untidy)

    def set_password(self, user_id: int, password_hash: str) -> None:
        self._set(user_id, password=password_hash)

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        self._set(user_id, is_disabled=disabled)
        if disabled:
            self.revoke_all_sessions(user_id)  # type: ignore[attr-defined]

    def set_active_org_unchecked(self, user_id: int, org_id: int) -> None:
        self._set(user_id, org_id=org_id)

    def set_grafana_admin(self, user_id: int, is_admin: bool) -> None:
        with self.db.write() as conn:
            if not is_admin:
                admins = conn.execute(select(U.c.id).where(U.c.is_admin.is_(True))).all()
                if [r.id for r in admins] == [user_id]:
                    raise LastAdmin(user_id)
            self._set(user_id, conn=conn, is_admin=is_admin)

    def _set(self, user_id: int, conn: Connection | None = None, **values: Any) -> None:
        if not in_int64(user_id):
            raise UserNotFound(user_id)
        with contextlib.nullcontext(conn) if conn is not None else self.db.write() as c:
            done = c.execute(
                update(U)
                .where(U.c.id == user_id, U.c.is_service_account.is_(False))
                .values(**values, updated=self.db.clock.now())
            )
            if done.rowcount == 0:
                raise UserNotFound(user_id)

    def touch_last_seen(self, user_id: int) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(U).where(U.c.id == user_id).values(last_seen_at=self.db.clock.now())
            )

    def delete_user(self, user_id: int) -> None:
        if not in_int64(user_id):
            raise UserNotFound(user_id)
        with self.db.write() as conn:
            login = conn.execute(
                select(U.c.login).where(U.c.id == user_id, U.c.is_service_account.is_(False))
            ).scalar()
            if login is None:
                raise UserNotFound(user_id)
            conn.execute(delete(U).where(U.c.id == user_id))
            for table in (
                schema.org_users,
                schema.team_members,
                schema.stars,
                schema.user_auth_tokens,
                schema.user_auth,
            ):
                conn.execute(delete(table).where(table.c.user_id == user_id))
            untidy = paging.untidy(conn, [login])
        paging.tidy(self.db, untidy)

    def link_external(self, user_id: int, auth_module: str, auth_id: str) -> None:
        """Mark a user as coming from an identity provider (LDAP, OAuth...)."""
        with self.db.write() as conn:
            conn.execute(
                insert(schema.user_auth).values(
                    user_id=user_id,
                    auth_module=auth_module,
                    auth_id=auth_id,
                    created=self.db.clock.now(),
                )
            )

    # -- brute-force protection ----------------------------------------------------------

    def record_failed_login(
        self, username: str, ip: str, now: int, *, forget_before: int | None = None
    ) -> None:
        """Count a failed password (`username` "": one that counts for the address only);
        attempts older than `forget_before` no longer count for anything and are deleted,
        every name's, as Grafana's clean-up job does, so the table holds one window."""
        a = schema.login_attempts
        name = go_lower(username)
        with self.db.write() as conn:
            if forget_before is not None:
                conn.execute(delete(a).where(a.c.created < forget_before))
            conn.execute(insert(a).values(username=name, ip_address=ip[:64], created=now))

    def failed_logins_from(self, ip: str, since: int) -> int:
        """Failed passwords sent from an address since `since` (per-IP protection)."""
        a = schema.login_attempts
        with self.db.read() as conn:
            return conn.execute(
                select(func.count())
                .select_from(a)
                .where(a.c.ip_address == ip[:64], a.c.created > since)
            ).scalar_one()

    def failed_logins_since(self, username: str, since: int) -> int:
        a = schema.login_attempts
        with self.db.read() as conn:
            return conn.execute(
                select(func.count())
                .select_from(a)
                .where(a.c.username == go_lower(username), a.c.created > since)
            ).scalar_one()

    def reset_failed_logins(self, username: str) -> None:
        a = schema.login_attempts
        with self.db.write() as conn:
            conn.execute(delete(a).where(a.c.username == go_lower(username)))


def auth_label(module: str) -> str:
    """Grafana's display label for an auth module ("oauth_github" -> "GitHub")."""
    labels = {
        "ldap": "LDAP",
        "oauth_github": "GitHub",
        "oauth_gitlab": "GitLab",
        "oauth_google": "Google",
        "oauth_azuread": "AzureAD",
        "oauth_okta": "Okta",
        "oauth_generic_oauth": "OAuth",
        "auth.saml": "SAML",
        "authproxy": "Auth Proxy",
        "auth.jwt": "JWT",
    }
    return labels.get(module, "OAuth" if module.startswith("oauth") else "Unknown")
