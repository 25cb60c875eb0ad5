"""Single sign-on: the OIDC relying party, group -> role/clearance mapping, sessions, agent tokens and route guards."""
