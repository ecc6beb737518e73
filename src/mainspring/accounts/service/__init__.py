"""The accounts services, one module per sub-part, each with its singleton.

=================  ==========================================================================
``registration``   create accounts, public registration, email verification
``login``          password sign-in with brute-force limits
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
