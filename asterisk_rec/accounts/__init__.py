"""Who may use the portal and the API: accounts, their passwords and sessions' versions, API tokens, the
login limits, who may do what (``access``) and the audit log. Below the web layer and the domains that
act for an account (retention, exports)."""
