"""The accounts services, one module per sub-part, each with its singleton.

=================  ==========================================================================
``registration``   create accounts, public registration, email verification
``passwords``      the password policy (length, common passwords, not the username or email)
``login``          password sign-in with brute-force limits
``two_factor``     the door to a session: the second step (TOTP, recovery codes) and enrolment
``totp``           the second factor's cryptography: sealed secrets, codes, recovery codes
``challenges``     the signed, single-use challenge between the two sign-in steps
``oidc``           sign-in through identity providers (OIDC, GitHub) and linked identities
``sessions``       start, refresh (rotation, reuse detection), list and revoke sessions
``recovery``       forgotten password and the reset link
``profile``        my account: profile, password, email address, deletion
``admin``          search users, disable and enable them, change roles
``audit``          the security event log
``links``          one-time tokens mailed as links, and the account mails
``states``         the cached session-state check behind every authenticated request
``context``        what operations need besides the database session
=================  ==========================================================================
"""
