"""Accounts: registration, sign-in, sessions, recovery, roles and the security audit log.

Mounted under ``/api/v1/auth`` and ``/api/v1/users``; docs/security.md describes every flow.
"""
