"""Piccolo tables of the sso domain: agent tokens, human sessions, OIDC identities, pending sign-ins, and the
security reviewers' background checks of the audit chain.

Secrets (tokens, session ids, login state) are stored only as SHA-256 hashes; the plaintext is shown once.
"""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from workspace.tables import Member


class AgentToken(Table, tablename="chorus_agent_token"):
    """An agent's bearer credential. Rotation revokes the previous ones; ``prefix`` is for display only."""

    id: Serial

    member = ForeignKey(references=Member, null=False, index=True)
    token_hash = Varchar(length=64, unique=True)
    prefix = Varchar(length=24)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class HumanIdentity(Table, tablename="chorus_human_identity"):
    """An identity at an OpenID Provider, keyed by (issuer, subject) through ``key`` = SHA-256 of both."""

    id: Serial

    key = Varchar(length=64, unique=True)
    issuer = Varchar(length=500)
    subject = Varchar(length=255)
    member = ForeignKey(references=Member, null=False, index=True)
    email = Varchar(length=320, null=True, default=None)
    created_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)


class Session(Table, tablename="chorus_session"):
    """A signed-in person's server-side session. The cookie holds a random id; only its hash is stored."""

    id: Serial

    id_hash = Varchar(length=64, unique=True)
    member = ForeignKey(references=Member, null=False, index=True)
    kind = Varchar(length=8, default="oidc")  # oidc | dev
    csrf_token = Varchar(length=64)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    expires_at = Timestamptz()  # absolute lifetime; the idle limit is last_seen_at + idle seconds
    ended_at = Timestamptz(null=True, default=None)
    end_reason = Varchar(length=40, null=True, default=None)
    idp_issuer = Varchar(length=500, null=True, default=None)
    idp_subject = Varchar(length=255, null=True, default=None, index=True)
    idp_sid = Varchar(length=255, null=True, default=None, index=True)
    id_token = Text(null=True, default=None, secret=True)  # for id_token_hint at RP-initiated logout


class PendingLogin(Table, tablename="chorus_pending_login"):
    """A sign-in between the redirect to the provider and the callback: single use, short-lived."""

    id: Serial

    state_hash = Varchar(length=64, unique=True)
    nonce = Varchar(length=128, secret=True)
    code_verifier = Varchar(length=128, secret=True)
    redirect_uri = Varchar(length=500)
    return_to = Varchar(length=500, default="/")
    created_at = Timestamptz()


class AuditVerification(Table, tablename="chorus_audit_verification"):
    """One check of the audit chain, run in the background by the process that started it. ``checked`` grows as it
    walks (every replica's page reads it here); a ``running`` row whose ``heartbeat_at`` stops moving was left by a
    process that died and counts as interrupted."""

    id: Serial

    workspace = Integer(index=True)
    status = Varchar(length=16, default="running")  # running | done | failed | interrupted
    started_by = Varchar(length=120, default="")
    started_at = Timestamptz()
    heartbeat_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    total = BigInt(default=0)  # sealed entries when it started (the walk also checks what was sealed since)
    checked = BigInt(default=0)
    ok = Boolean(null=True, default=None)
    first_bad_seq = BigInt(null=True, default=None)
    reason = Text(default="")
    checkpoint_seq = BigInt(null=True, default=None)
