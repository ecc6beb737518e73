"""Signing in through identity providers (OpenID Connect, and GitHub's OAuth 2.0).

================  ===========================================================================
``flow``          the three steps: start (authorize), callback, ticket exchange
``providers``     the provider clients: discovery, code redemption, ID token checks, GitHub API
``identities``    which account an identity is (link, new account, refusal); the user's links
``redirects``     the allow-list of pages the browser may come back to
================  ===========================================================================

docs/security.md ("Identity providers (OIDC)") describes the flow, every check and default.
"""
