"""Console users: passwords hashed with scrypt and a salt of their own, and what admins do
to them (roles, deactivation, a new password). There is always an active admin left.

Each change that must end a user's sessions (signing out, deactivation, a new role or
password) increments the user's ``session_epoch`` in the same update. Guessing passwords
is slowed by the console's sign-in throttle, not here: a per-account lock would let
anyone lock any account, and would tell which accounts exist."""

import hashlib
import hmac
import secrets
from functools import partial

from bson import ObjectId
from mongoengine import NotUniqueError, ValidationError

from crm.clock import utcnow
from crm.documents import ROLES, User
from crm.services import once, passwords
from crm.services.errors import Conflict, InvalidInput, NotFound
from crm.store import transaction
from crm.store import users as store

# scrypt's cost: 16 MiB of memory and about 50 ms a hash.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 2**20}


class Deactivated(Exception):
    """The account was deactivated by an admin."""


ENDING_SESSIONS = {"$inc": {"session_epoch": 1}}
LAST_ADMIN = "There must be an active admin left: make another user admin first."


def _hash(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT).hex()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput("Unknown role.", {"role": [f"One of: {', '.join(ROLES)}."]})


def create(email: str, role: str, temporary: bool = True) -> tuple[User, str]:
    """A new user and the generated password, which is shown this once; a ``temporary``
    one must be changed at the first sign-in."""
    password = secrets.token_urlsafe(12)
    user, _ = _insert(ObjectId(), email, role, temporary, password)
    return user, password


def create_once(user_id: ObjectId, email: str, role: str) -> tuple[User, str | None]:
    """Create the user with the id its form was given, once, with a temporary password:
    the user and that password, or None in its place if the form was sent before (the
    password was shown then, once)."""
    password = secrets.token_urlsafe(12)
    user, created = _insert(user_id, email, role, True, password)
    return user, password if created else None


def _insert(
    user_id: ObjectId, email: str, role: str, temporary: bool, password: str
) -> tuple[User, bool]:
    _check_role(role)
    salt = secrets.token_bytes(16)
    user = User(
        id=user_id,
        email=email.strip().lower(),
        role=role,
        salt=salt.hex(),
        password_hash=_hash(password, salt),
        must_change_password=temporary,
    )
    try:
        return once.insert(user)
    except NotUniqueError:
        raise Conflict(f"A user with e-mail {email} exists.") from None
    except ValidationError:
        raise InvalidInput("Not an e-mail address.", {"email": ["Not valid."]}) from None


def exist() -> bool:
    return User.objects.only("id").first() is not None


def listing() -> list[User]:
    return list(User.objects.order_by("email"))


def set_role(email: str, role: str) -> User:
    _check_role(role)
    user = _named(email)
    if user.role != role:
        _keeping_an_admin(user, {"$set": {"role": role}, **ENDING_SESSIONS})
    return user.reload()


def deactivate(email: str, by: User) -> User:
    """Stop the user signing in and end their sessions (not one's own account)."""
    user = _named(email)
    if user.id == by.id:
        raise Conflict("You cannot deactivate your own account.")
    if user.deactivated_at is None:
        _keeping_an_admin(user, {"$set": {"deactivated_at": utcnow()}, **ENDING_SESSIONS})
    return user.reload()


def reactivate(email: str) -> User:
    user = _named(email)
    user.update(unset__deactivated_at=True)
    return user.reload()


def reset_password(email: str) -> tuple[User, str]:
    """A new generated password for the user, shown this once and to be replaced at the
    next sign-in; the old one stops working, and so do the user's sessions."""
    user = _named(email)
    password = secrets.token_urlsafe(12)
    salt = secrets.token_bytes(16)
    user.update(
        set__salt=salt.hex(),
        set__password_hash=_hash(password, salt),
        set__must_change_password=True,
        inc__session_epoch=1,
    )
    return user.reload(), password


def _named(email: str) -> User:
    user = User.objects(email=email.strip().lower()).first()
    if user is None:
        raise NotFound(f"No user {email}.")
    return user


def _keeping_an_admin(user: User, update: dict) -> None:
    try:
        transaction.run(partial(store.change_keeping_an_admin, user.id, update))
    except store.LastAdmin:
        raise Conflict(LAST_ADMIN) from None


def change_password(user: User, current: str, new: str, confirmation: str) -> User:
    """Replace the user's password, given the current one; the new one must be another."""
    problems: dict[str, list[str]] = {}
    if not _matches(user, current):
        problems["current_password"] = ["Not the current password."]
    weakness = passwords.weakness(new, user.email)
    if weakness:
        problems["new_password"] = [weakness]
    elif new == current:
        problems["new_password"] = ["Must differ from the current password."]
    if new != confirmation:
        problems["confirmation"] = ["Does not match the new password."]
    if problems:
        raise InvalidInput("The password was not changed.", problems)
    salt = secrets.token_bytes(16)
    User.objects(id=user.id).update_one(
        set__salt=salt.hex(),
        set__password_hash=_hash(new, salt),
        set__must_change_password=False,
        inc__session_epoch=1,
    )
    return user.reload()


def sign_out(user: User) -> None:
    """End every session of ``user``, in this browser and any other."""
    User.objects(id=user.id).update_one(inc__session_epoch=1)


def _matches(user: User, password: str) -> bool:
    return hmac.compare_digest(_hash(password, bytes.fromhex(user.salt)), user.password_hash)


def get(user_id: str) -> User | None:
    return User.objects(id=user_id).first()


def authenticate(email: str, password: str) -> User | None:
    """The user these credentials name, or None (Deactivated: right, but deactivated)."""
    user = User.objects(email=email.strip().lower()).first()
    if user is None:
        _hash(password, b"0" * 16)  # the same time as a known address
        return None
    if not _matches(user, password):
        return None
    if user.deactivated_at:
        raise Deactivated()
    user.update(set__last_signed_in_at=utcnow())
    return user.reload()


def sign_in_verified(email: str) -> User | None:
    """The user an identity provider vouched for by a verified ``email``, or None when no
    console user has it: a provider never creates users (Deactivated: nor revives them).

    The per-account lock guards passwords and does not apply. A generated password still
    waiting to be replaced is voided instead (nobody learns the new one), so the one shown
    to whoever created the user stops working once the user has come in through the provider.
    """
    user = User.objects(email=email.strip().lower()).first()
    if user is None:
        return None
    if user.deactivated_at:
        raise Deactivated()
    User.objects(id=user.id, must_change_password=True).update_one(
        set__salt=secrets.token_bytes(16).hex(),
        set__password_hash=secrets.token_hex(32),
        set__must_change_password=False,
        inc__session_epoch=1,
    )
    user.update(set__last_signed_in_at=utcnow())
    return user.reload()
