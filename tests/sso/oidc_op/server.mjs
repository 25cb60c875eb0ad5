// A real OpenID Provider (panva/node-oidc-provider 9.x) for Chorus's SSO tests. Never for production.
//
// Usage: node server.mjs CONFIG.json
// CONFIG.json (written by tests/sso/op.py):
//   { "port": 43123, "issuer": "http://127.0.0.1:43123",
//     "clients": [ { client_id, client_secret, redirect_uris, token_endpoint_auth_method,
//                    post_logout_redirect_uris?, backchannel_logout_uri? } ],
//     "jwks_path": "/tmp/.../jwks.json",          // private JWK set {keys: [...]}, read once at start
//     "accounts_path": "/tmp/.../accounts.json",  // {"alice": {"email", "name", "groups": [...]}}, re-read per lookup
//     "ttl": { "IdToken": 3600, "AccessToken": 3600 } }
// Key rotation: the harness rewrites jwks.json and restarts this process on the same port.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const jwks = JSON.parse(readFileSync(config.jwks_path, 'utf8'));
const ttl = config.ttl ?? {};

function loadAccounts() {
  try {
    return JSON.parse(readFileSync(config.accounts_path, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return {};
    throw err;
  }
}

// Re-read on every lookup so that a test can change a user's groups between two sign-ins.
async function findAccount(ctx, id) {
  const known = loadAccounts()[id];
  const account = known ?? { email: `${id}@example.test`, name: id, groups: [] };
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        email: account.email ?? `${id}@example.test`,
        email_verified: true,
        name: account.name ?? id,
        groups: account.groups ?? [],
      };
    },
  };
}

const provider = new Provider(config.issuer, {
  clients: config.clients.map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  jwks,
  findAccount,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    // groups also ride on `profile` so that the default scopes "openid profile email" carry them.
    profile: ['name', 'groups'],
    groups: ['groups'],
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  // oidc-provider refuses to call special-use addresses (SSRF guard); test RPs listen on 127.0.0.1.
  fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
  cookies: { keys: ['chorus-test-op-cookie-key'] },
  ttl: {
    AccessToken: ttl.AccessToken ?? 3600,
    AuthorizationCode: 60,
    IdToken: ttl.IdToken ?? 3600,
    Grant: 3600,
    Interaction: 600,
    Session: 3600,
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

// Surface what would otherwise be silent in the test logs (op.log in the harness's work dir).
provider.on('backchannel.error', (ctx, err, client) => console.error(`backchannel.error ${client.clientId}: ${err}`));
provider.on('server_error', (ctx, err) => console.error(`server_error: ${err.stack}`));

const server = provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-op listening ${config.issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
